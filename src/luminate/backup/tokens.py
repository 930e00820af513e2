"""The shared token of the backup routes (server) and the backup agents: a secret file both
sides read, compared in constant time. Operators' API tokens are per tenant and cannot
authorize an operation on every tenant's data, hence a separate secret."""

from __future__ import annotations

import hmac
from pathlib import Path

from luminate.backup.errors import UsageError

MIN_BYTES = 16


def read_token(path: str) -> str:
    if not path:
        raise UsageError("LUMINATE_BACKUP_TOKEN_FILE is not set; the backup routes need a token")
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise UsageError(f"LUMINATE_BACKUP_TOKEN_FILE {path!r}: {exc.strerror}") from None
    if len(token) < MIN_BYTES:
        raise UsageError(
            f"LUMINATE_BACKUP_TOKEN_FILE {path!r} holds fewer than {MIN_BYTES} characters"
        )
    return token


def matches(expected: str, header: str | None) -> bool:
    """True when `header` is `Bearer <expected>`."""
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), expected.encode())
