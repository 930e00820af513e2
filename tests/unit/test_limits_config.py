from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from luminate.limits import config
from luminate.limits.config import LimitsTable, TenantLimits
from luminate.settings import ConfigError, load_settings

DEFAULTS = TenantLimits.from_settings(load_settings({}))


def write(path: Path, data: object) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_defaults_are_the_seed_values() -> None:
    assert (DEFAULTS.write_rps, DEFAULTS.query_rps, DEFAULTS.metrics_per_sec) == (100, 50, 10_000)
    assert DEFAULTS.concurrent_queries == 10
    assert DEFAULTS.max_series == 1_000_000


def test_settings_set_the_defaults() -> None:
    s = load_settings({"LUMINATE_RATELIMIT_WRITE_RPS": "7", "LUMINATE_CARDINALITY_MAX_SERIES": "9"})
    limits = LimitsTable(TenantLimits.from_settings(s)).for_principal("acme", None)
    assert (limits.write_rps, limits.max_series) == (7, 9)


def test_tenant_overrides_win_over_tier_overrides_over_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path / "limits.yaml",
        {
            "tiers": {"free": {"write_rps": 5, "max_series": 1000}},
            "tenants": {"acme": {"write_rps": 50}},
        },
    )
    table = LimitsTable(DEFAULTS, path)
    acme_free = table.for_principal("acme", "free")
    assert (acme_free.write_rps, acme_free.max_series) == (50, 1000)
    other_free = table.for_principal("other", "free")
    assert (other_free.write_rps, other_free.max_series) == (5, 1000)
    assert table.for_principal("other", None) == DEFAULTS
    assert table.for_principal("other", "unknown-tier") == DEFAULTS


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"tenants": {"acme": {"write_rsp": 5}}}, "write_rsp"),
        ({"tiers": {"free": {"write_rps": 0}}}, "write_rps"),
        ({"tiers": {"free": {"max_series": "many"}}}, "max_series"),
        ({"tenant": {}}, "tenant"),
        (["not", "a", "mapping"], "object"),
    ],
)
def test_a_bad_overrides_file_fails_at_start_naming_file_and_key(
    tmp_path: Path, data: object, needle: str
) -> None:
    path = write(tmp_path / "limits.yaml", data)
    with pytest.raises(ConfigError) as err:
        LimitsTable(DEFAULTS, path)
    assert "LUMINATE_LIMITS_OVERRIDES_FILE" in err.value.message
    assert str(path) in err.value.message
    assert needle in err.value.message


def test_a_missing_overrides_file_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        LimitsTable(DEFAULTS, str(tmp_path / "absent.yaml"))


def test_changes_to_the_file_are_picked_up_and_bad_edits_keep_the_last_good_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "_RECHECK_S", 0.0)
    path = tmp_path / "limits.yaml"
    write(path, {"tenants": {"acme": {"write_rps": 5}}})
    table = LimitsTable(DEFAULTS, str(path))
    assert table.for_principal("acme", None).write_rps == 5

    write(path, {"tenants": {"acme": {"write_rps": 6, "query_rps": 3}}})
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert table.for_principal("acme", None).write_rps == 6

    path.write_text("tenants: {acme: {write_rps: -1}}")
    os.utime(path, ns=(1, 3_000_000_000_000_000_000))
    kept = table.for_principal("acme", None)
    assert (kept.write_rps, kept.query_rps) == (6, 3)

    path.unlink()
    assert table.for_principal("acme", None).write_rps == 6
