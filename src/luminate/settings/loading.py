"""Settings read from the environment (`LUMINATE_<FIELD>`, or the name a field's metadata gives,
as `JWT_SECRET`), optionally layered over a YAML file (`LUMINATE_CONFIG_FILE`). Unknown
`LUMINATE_*` variables and unknown file keys are an error, so a typo in a manifest fails at start
instead of being ignored."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from luminate.settings.fields import (
    CONFIG_FILE_ENV,
    ENV_PREFIX,
    ConfigError,
    Settings,
    SettingSpec,
    describe,
)


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build settings from a YAML file (if named), then the environment, then `overrides`."""
    env = dict(os.environ if environ is None else environ)
    specs = {s.env: s for s in describe()}
    values: dict[str, Any] = {}

    config_file = env.get(CONFIG_FILE_ENV)
    if config_file:
        values.update(_read_file(config_file, {s.field for s in specs.values()}))

    unknown = sorted(
        k for k in env if k.startswith(ENV_PREFIX) and k not in specs and k != CONFIG_FILE_ENV
    )
    if unknown:
        raise ConfigError(
            f"unknown setting(s): {', '.join(unknown)} (see docs/configuration.md)",
            details={"unknown": unknown},
        )
    for name, spec in specs.items():
        if name in env:
            raw = env[name]
            values[spec.field] = _split(raw) if spec.type.startswith("list") else raw
    if overrides:
        values.update(overrides)
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting: {_env_path(str(exc), specs, values)}") from exc
    return settings


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _read_file(path: str, fields: set[str]) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{CONFIG_FILE_ENV} {path!r}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG_FILE_ENV} {path!r}: expected a mapping of settings")
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    return {str(k): v for k, v in data.items()}


def _env_path(message: str, specs: dict[str, SettingSpec], values: dict[str, Any]) -> str:
    """Rewrite msgspec's `$.field` path into the variable name the operator actually set."""
    for spec in specs.values():
        if spec.expect and message.endswith(f"`$.{spec.field}`"):
            return f"{spec.env}={values.get(spec.field)!r}: expected {spec.expect}"
        message = message.replace(f"`$.{spec.field}`", spec.env).replace(
            f"`$.{spec.field}[", f"{spec.env}["
        )
    return message
