"""The document's part for GET /api/v1/auth/whoami: any valid token, whatever its scopes."""

from __future__ import annotations

from luminate.http.openapi.paths import EVERYWHERE, json_response, operation
from luminate.http.openapi.schemas import MS, TENANT_PATTERN, Schema, obj, schema_ref

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


def identity_schemas() -> dict[str, Schema]:
    optional_text: Schema = {"type": ["string", "null"]}
    return {
        "Identity": obj(
            {
                "tenantId": {"type": "string", "pattern": TENANT_PATTERN},
                "scopes": {
                    "type": "array",
                    "items": {"enum": ["admin", "read", "write"]},
                    "uniqueItems": True,
                },
                "subject": optional_text,
                "orgId": optional_text,
                "tier": optional_text,
                "expiresAt": {**MS, "type": ["integer", "null"]},
            },
            description="Claims of a verified token; `expiresAt` is its `exp` in epoch ms.",
        )
    }
