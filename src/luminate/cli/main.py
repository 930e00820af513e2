"""The `luminate` command: serve, migrate, token create, config show / docs, smoke-test, backup."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import msgspec

from luminate import __version__
from luminate.cli import backup, smoke
from luminate.loadtest import command as loadtest
from luminate.model.errors import LuminateError
from luminate.model.time import parse_duration
from luminate.settings import ConfigError, Settings, load_settings
from luminate.storage.errors import StorageError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except (ConfigError, StorageError, LuminateError) as exc:
        print(f"luminate: {exc}", file=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="luminate", description="Multi-tenant metrics service")
    p.add_argument("--version", action="version", version=f"luminate {__version__}")
    sub = p.add_subparsers()

    serve = sub.add_parser("serve", help="run the HTTP server (settings from LUMINATE_*)")
    serve.set_defaults(run=_serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the storage schema (idempotent)")
    migrate.set_defaults(run=_migrate)

    token = sub.add_parser("token", help="API tokens").add_subparsers()
    create = token.add_parser(
        "create",
        help="sign a token with JWT_SECRET, or with a private key whose public key is in the JWKS",
    )
    create.add_argument("--tenant", required=True)
    create.add_argument("--scopes", default="read,write", help="comma list: read,write,admin")
    create.add_argument("--ttl", default="1h", help="lifetime, e.g. 15m, 1h, 30d")
    create.add_argument("--subject", default=None)
    create.add_argument("--private-key", default=None, metavar="FILE", help="PEM RSA or EC key")
    create.add_argument("--kid", default=None, help="key id of its public key in the JWKS")
    create.add_argument(
        "--algorithm", default=None, help="RS256 | ES256 | ... (default: from the key's type)"
    )
    create.set_defaults(run=_token_create)

    config = sub.add_parser("config", help="configuration").add_subparsers()
    show = config.add_parser("show", help="print effective settings as JSON (secrets masked)")
    show.set_defaults(run=_config_show)
    docs = config.add_parser("docs", help="print the settings reference as Markdown")
    docs.set_defaults(run=_config_docs)

    smoke.register(sub)
    loadtest.register(sub)
    backup.register(sub)
    return p


def _settings() -> Settings:
    return load_settings()


def _serve(args: argparse.Namespace) -> int:
    from luminate.observability.logging import configure_logging  # noqa: PLC0415
    from luminate.server import serve  # noqa: PLC0415  (loads uvicorn and the engine)

    settings = _settings()
    configure_logging(settings.log_level)
    serve(settings)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from luminate.app import build_storage  # noqa: PLC0415

    storage = build_storage(_settings())
    try:
        steps = storage.migrate()
        storage.recover()
        # Rows of a previous layout are copied now (the service may run meanwhile).
        copied = storage.copy_previous_layout(
            progress=lambda message: print(message, file=sys.stderr, flush=True)
        )
    finally:
        storage.close()
    summary = {"backend": storage.backend, "statements": len(steps), "rows_copied": copied}
    print(msgspec.json.encode(summary).decode())
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from luminate.auth.tokens import (  # noqa: PLC0415
        HMAC_KEY_BYTES,
        SigningKey,
        TokenVerifier,
        check_algorithms,
        create_token,
        load_signing_key,
    )

    settings = _settings()
    accepted = settings.jwt_algorithms
    try:
        check_algorithms(accepted)
        key: SigningKey
        if args.private_key:
            if not args.kid:
                raise ValueError("--kid is required with --private-key: tokens name their key")
            try:
                with open(args.private_key, "rb") as f:
                    pem = f.read()
            except OSError as exc:
                raise ValueError(f"--private-key {args.private_key!r}: {exc}") from None
            key, algorithm = load_signing_key(pem, args.algorithm)
        else:
            if args.kid or args.algorithm:
                raise ValueError("--kid and --algorithm go with --private-key")
            shared = [a for a in accepted if a in HMAC_KEY_BYTES]
            if not shared:
                raise ValueError(
                    f"LUMINATE_JWT_ALGORITHMS ({', '.join(accepted)}) accepts no HS algorithm; "
                    "sign with --private-key"
                )
            algorithm, key = shared[0], settings.secret()
            TokenVerifier(key, algorithms=shared)  # the server's checks of the secret
        if algorithm not in accepted:
            raise ValueError(
                f"LUMINATE_JWT_ALGORITHMS ({', '.join(accepted)}) does not accept {algorithm}"
            )
        ttl_s = parse_duration(args.ttl) // 1000
        token = create_token(
            key,
            tenant=args.tenant,
            scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
            ttl_s=max(1, ttl_s),
            algorithm=algorithm,
            kid=args.kid,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            subject=args.subject,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    print(token)
    return 0


def _config_show(args: argparse.Namespace) -> int:
    print(msgspec.json.format(msgspec.json.encode(_settings().redacted()), indent=2).decode())
    return 0


def _config_docs(args: argparse.Namespace) -> int:
    from luminate.settings import describe  # noqa: PLC0415

    lines = [
        "# Configuration",
        "",
        "Generated by `luminate config docs` from the settings object; a test keeps it current.",
        "Every setting is an environment variable; `LUMINATE_CONFIG_FILE` may name a YAML file",
        "with the same settings by field name (environment wins). Unknown `LUMINATE_*`",
        "variables stop the process at start.",
        "",
        "| Variable | Type | Default | Description |",
        "|---|---|---|---|",
    ]
    for s in describe():
        default = ",".join(s.default) if isinstance(s.default, list) else s.default
        shown = "(secret)" if s.secret else f"`{default}`"
        lines.append(f"| `{s.env}` | {s.type} | {shown} | {s.description} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
