"""LocalRunner: process-group kill on timeout, rlimits classified, truncation, warning."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from runners import Resources
from runners.local import LocalRunner


@pytest.fixture
def runner(tmp_path: Path) -> LocalRunner:
    return LocalRunner(tmp_path)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")  # a zombie is dead
    except FileNotFoundError:
        return True


def test_runs_in_the_project_and_captures_both_streams(runner: LocalRunner) -> None:
    result = runner.run("pwd; echo err >&2; exit 3")
    assert result.stdout.strip() == str(runner.root)
    assert result.stderr == "err\n"
    assert result.exit_code == 3
    assert result.failure is None


def test_timeout_kills_the_whole_process_group(runner: LocalRunner, tmp_path: Path) -> None:
    started = time.monotonic()
    result = runner.run(
        "sh -c 'sleep 300 & echo $! > grandchild.pid; wait' & sleep 300",
        resources=Resources(timeout_s=1),
    )
    assert time.monotonic() - started < 60  # ended at its limit, not after the 300 s
    assert result.failure is not None and result.failure.kind == "timeout"
    assert result.exit_code is None
    assert "1 s" in result.failure.message
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    deadline = time.monotonic() + 60  # generous: it is gone at once on a quiet machine
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), f"grandchild {grandchild} still runs"


def test_memory_limit_is_classified_as_oom(runner: LocalRunner) -> None:
    result = runner.run(
        f"{sys.executable} -c 'x = bytearray(400 * 1024 * 1024)'",
        resources=Resources(memory_mb=200),
    )
    assert result.exit_code != 0
    assert "MemoryError" in result.stderr
    assert result.failure is not None and result.failure.kind == "oom"
    assert "200 MB" in result.failure.message
    assert "memory_mb >= 400" in result.failure.suggestion
    ok = runner.run(
        f"{sys.executable} -c 'x = bytearray(100 * 1024 * 1024)'",
        resources=Resources(memory_mb=1024),
    )
    assert ok.exit_code == 0 and ok.failure is None


def test_output_keeps_the_tail(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path, max_output_bytes=1000)
    result = runner.run("i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done")
    assert result.stdout.startswith("[... ")
    assert "earlier bytes cut" in result.stdout.splitlines()[0]
    assert result.stdout.endswith("line1999\n")
    assert "line0\n" not in result.stdout
    assert len(result.stdout) < 1100


def test_secrets_in_the_environment_are_not_passed(
    runner: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("STRIPE_KEY", "sk_live_0123456789")  # every name the redactor hides
    monkeypatch.setenv("GH_AUTH", "gho_0123456789")
    monkeypatch.setenv("HARNESS_PLAIN", "visible")
    result = runner.run(
        "echo ${OPENAI_API_KEY:-unset} ${STRIPE_KEY:-unset} ${GH_AUTH:-unset} $HARNESS_PLAIN "
        "$EXTRA",
        env={"EXTRA": "x"},
    )
    assert result.stdout.split() == ["unset", "unset", "unset", "visible", "x"]


def test_says_it_is_not_a_sandbox_to_its_user_not_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run or init that uses it says so through its events (test_live_run)."""
    runner = LocalRunner(tmp_path)
    assert capsys.readouterr().err == ""
    assert runner.sandboxed is False
    assert "NOT a sandbox" in runner.describe()


def test_cwd_outside_the_project_is_refused(runner: LocalRunner) -> None:
    with pytest.raises(ValueError, match="outside the project"):
        runner.run("true", cwd="..")
    (runner.root / "sub").mkdir()
    assert runner.run("pwd", cwd="sub").stdout.strip() == os.path.join(runner.root, "sub")


def test_stop_ends_what_the_commands_left_running(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path)
    result = runner.run(
        "setsid sh -c 'while :; do date +%N >> beat.txt; sleep 0.05; done' >/dev/null 2>&1 & "
        "sleep 0.2; echo started"
    )
    assert result.stdout == "started\n"
    beat = tmp_path / "beat.txt"
    before = beat.read_bytes()
    deadline = time.monotonic() + 60  # the next beat, however loaded the machine
    while beat.read_bytes() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert beat.read_bytes() != before  # the local runner is not a sandbox: it survived
    runner.stop()
    stopped = beat.read_bytes()
    time.sleep(0.5)
    assert beat.read_bytes() == stopped
    assert runner.run("echo again").stdout == "again\n"


def test_a_sparse_file_past_the_file_limit_is_a_disk_failure(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path, max_file_mb=5)
    result = runner.run("truncate -s 50G big.bin; echo done")
    assert result.failure is not None and result.failure.kind == "disk"
    assert (tmp_path / "big.bin").stat().st_size <= 5 << 20


def test_the_workspace_budget_is_a_disk_failure(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path, disk_mb=1)
    result = runner.run("dd if=/dev/zero of=a.bin bs=1M count=2 2>/dev/null")
    assert result.failure is not None and result.failure.kind == "disk"
    assert result.failure.limit == "disk_mb=1"
