"""Fresh tenant ids: tests that share a server isolate themselves by tenant."""

from __future__ import annotations

import uuid


def new_tenant(prefix: str = "t") -> str:
    """A tenant id no other test uses; the prefix says which test made it."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
