"""The document's part for GET /api/v1/auth/whoami: any valid token, whatever its scopes."""

from __future__ import annotations

from luminate.http.openapi.paths import EVERYWHERE, json_response, operation
from luminate.http.openapi.schemas import Schema, schema_ref

WHOAMI = "/api/v1/auth/whoami"
# It verifies the token and nothing else: no scope to lack, no tenant to name, no storage.
WHOAMI_ERRORS = (*EVERYWHERE, 401)


def identity_paths() -> dict[str, Schema]:
    op = operation(
        "whoami",
        "auth",
        "The tenant, scopes and expiry of the presented token (any scope)",
        {200: json_response("The token's verified claims.", schema_ref("Identity"))},
        WHOAMI_ERRORS,
    )
    op["security"] = [{"bearerAuth": []}]
    return {WHOAMI: {"get": op}}
