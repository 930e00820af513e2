"""`python -m testbed.clickhouse` (and its shim scripts/clickhouse-cluster.sh): bad input gets one
line and an exit code; `down` run from another process stops exactly what `up` started; a failed
`up` names the log that explains it and leaves nothing running."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.clickhouse.cli import main
from testbed.clickhouse.layout import PASSWORD_FILE, render_layout
from tests.clickhouse.harness import SCRIPT

PROGRESS = r"^\[clickhouse-cluster \+\d+\.\d\ds\] "


def _cli(base: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**os.environ, "CLUSTER_DIR": str(base), **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _run(capsys: pytest.CaptureFixture[str], *args: str, **env: str) -> tuple[int, str, str]:
    """The command in-process, for input that is refused before any server starts."""
    code = main(list(args), {**os.environ, **env})
    out, err = capsys.readouterr()
    return code, out, err


def _alive(pid: int) -> bool:
    try:  # a zombie's command line is empty
        return Path(f"/proc/{pid}/cmdline").read_bytes() != b""
    except OSError:
        return False


def _processes_naming(base: Path) -> list[int]:
    """Every running process whose command line names a file under base."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"{base}/".encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _pids(base: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text()) for f in sorted((base / "pids").glob("*.pid"))}


# ---------------------------------------------------------------- refused input


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["up"], {"TOPOLOGY": "3x3"}, "TOPOLOGY must be one of 2x2, single, not '3x3'"),
        (["up"], {"ZK_NODES": "2"}, "ZK_NODES must be 3 or 1, not 2"),
        (["up"], {"PORT_BASE": "80x"}, "PORT_BASE must be a whole number, not '80x'"),
        (["status"], {"WAIT_SECONDS": "soon"}, "WAIT_SECONDS must be a number of seconds"),
        (["down"], {"STOP_SECONDS": "-1"}, "STOP_SECONDS must be between 0 and 3600 seconds"),
        (["status"], {}, "no cluster in"),
        (["kill-node", "1"], {}, "no cluster in"),
    ],
)
def test_bad_settings_and_a_missing_cluster_get_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    code, out, err = _run(capsys, *args, CLUSTER_DIR=str(tmp_path), **env)
    assert code == 1
    assert err.startswith("[clickhouse-cluster] ERROR: ") and message in err
    assert err.count("\n") == 1 and not out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kill-node", "7"], "no clickhouse-7 (ordinals 0..3)"),
        (["start-node", "4"], "no clickhouse-4 (ordinals 0..3)"),
        (["zk-start", "3"], "no zookeeper-3 (ordinals 0..2)"),
    ],
)
def test_ordinals_outside_the_cluster_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    render_layout(tmp_path, "2x2", 3)
    code, _, err = _run(capsys, *args, CLUSTER_DIR=str(tmp_path))
    assert (code, err) == (1, f"[clickhouse-cluster] ERROR: {message}\n")


@pytest.mark.parametrize("args", [["frobnicate"], ["kill-node"], ["kill-node", "x"], ["up", "-i"]])
def test_unknown_commands_and_arguments_print_usage(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args, {})
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m testbed.clickhouse") and "Traceback" not in err


def test_check_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "check") == (0, "everything needed is installed\n", "")
    code, _, err = _run(capsys, "check", CH_BIN=str(tmp_path / "nope"), ZK_JAR="/no/zk.jar")
    assert code == 3
    assert err.splitlines()[0] == f"missing: {tmp_path / 'nope'} /no/zk.jar"
    assert "scripts/setup-tools.sh" in err


def test_the_script_runs_from_any_directory(tmp_path: Path) -> None:
    # Another checkout's packages in the working directory must not shadow this one's.
    (tmp_path / "testbed").mkdir()
    (tmp_path / "testbed" / "__init__.py").write_text("")
    result = subprocess.run(
        [str(SCRIPT), "check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "everything needed is installed\n"), (
        result.stderr
    )


def test_purge_deletes_only_a_cluster_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    code, _, err = _run(capsys, "down", "--purge", CLUSTER_DIR=str(foreign))
    assert code == 1 and f"{foreign} holds no {PASSWORD_FILE}; not deleting it" in err
    assert (foreign / "notes.txt").read_text() == "keep me"

    ours = tmp_path / "ours"
    render_layout(ours, "single", 1)
    code, out, _ = _run(capsys, "down", "--purge", CLUSTER_DIR=str(ours))
    assert code == 0 and f"nothing runs from {ours}" in out and f"removed {ours}" in out
    assert not ours.exists()


# ---------------------------------------------------------------- live clusters


@pytest.fixture
def decoy() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not the cluster's, stopped at the end whatever happened."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait(10)


@pytest.mark.clickhouse
def test_commands_from_other_processes_control_exactly_what_up_started(
    tmp_path: Path, decoy: subprocess.Popen[bytes]
) -> None:
    base = tmp_path / "cluster"
    single = {"TOPOLOGY": "single", "ZK_NODES": "1"}
    up = _cli(base, "up", **single)
    try:
        assert up.returncode == 0, up.stderr
        assert re.search(
            PROGRESS + r"zookeeper-0 serves on 127\.0\.0\.1:\d+ \(standalone, pid \d+\)$",
            up.stdout,
            re.MULTILINE,
        )
        assert re.search(
            PROGRESS + r"clickhouse-0 answers: native 127\.0\.0\.1:\d+", up.stdout, re.MULTILINE
        )
        assert "every server sees ZooKeeper; cluster luminate_cluster:" in up.stdout
        assert re.search(PROGRESS + r"ready in \d+\.\d\ds", up.stdout, re.MULTILINE)
        pids = _pids(base)
        assert set(pids) == {"clickhouse-0", "zookeeper-0"}
        assert all(_alive(p) for p in pids.values())

        again = _cli(base, "up", **single)
        assert again.returncode == 1
        assert "from an earlier run still runs; run 'down' first" in again.stderr
        assert _pids(base) == pids and all(_alive(p) for p in pids.values())

        status = _cli(base, "status").stdout.splitlines()
        assert status[:2] == [
            f"zookeeper-0 running (pid {pids['zookeeper-0']})",
            f"clickhouse-0 running (pid {pids['clickhouse-0']})",
        ]

        killed = _cli(base, "kill-node", "0")
        assert f"stopped clickhouse-0 (pid {pids['clickhouse-0']}, SIGKILL)" in killed.stdout
        assert not _alive(pids["clickhouse-0"])
        assert "clickhouse-0 stopped" in _cli(base, "status").stdout.splitlines()
        started = _cli(base, "start-node", "0")
        assert started.returncode == 0, started.stderr
        assert "clickhouse-0 answers" in started.stdout
        assert _pids(base)["clickhouse-0"] != pids["clickhouse-0"]
        pids = _pids(base)

        # A PID file of this cluster naming someone else's process: `down` must leave it alone.
        (base / "clickhouse-1").mkdir()
        (base / "pids" / "clickhouse-1.pid").write_text(f"{decoy.pid}\n")
        down = _cli(base, "down")
        assert down.returncode == 0, down.stderr
        stopped = re.findall(r"stopped (\S+) \(pid (\d+), SIGTERM\)", down.stdout)
        assert sorted(stopped) == sorted((name, str(pid)) for name, pid in pids.items())
        assert down.stdout.index("clickhouse-0") < down.stdout.index("zookeeper-0")
        assert not any(_alive(p) for p in pids.values())
        assert decoy.poll() is None, "down signalled a process that is not the cluster's"
    finally:
        _cli(base, "down")
    assert not _processes_naming(base)


@pytest.mark.clickhouse
@pytest.mark.parametrize(
    ("server", "error", "log_line"),
    [
        (
            "echo 'this build is broken' >&2; exit 70",
            r"clickhouse-0 exited",
            "this build is broken",
        ),
        (
            "echo 'listening nowhere'; while :; do sleep 0.1; done",
            r"clickhouse-0 did not answer /ping on 127\.0\.0\.1:\d+ within \d+s",
            "listening nowhere",
        ),
    ],
    ids=["exits", "never-answers"],
)
def test_a_failed_up_shows_the_log_and_leaves_nothing_running(
    tmp_path: Path, server: str, error: str, log_line: str
) -> None:
    fake = tmp_path / "clickhouse-server"
    fake.write_text(f"#!/bin/sh\n{server}\n")
    fake.chmod(0o755)
    base = tmp_path / "cluster"
    result = _cli(base, "up", TOPOLOGY="single", ZK_NODES="1", CH_BIN=str(fake), WAIT_SECONDS="8")
    assert result.returncode == 1
    assert re.search(r"^\[clickhouse-cluster\] ERROR: " + error + "$", result.stderr, re.M)
    assert f"---- last lines of {base}/clickhouse-0/log/stdout.log\n{log_line}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "stopping what this run started" in result.stdout
    assert re.search(r"stopped zookeeper-0 \(pid \d+, SIGKILL\)", result.stdout)
    assert not _processes_naming(base)
    assert not list((base / "pids").glob("*.pid"))
