"""LocalRunner.stop(): what the commands left running is found through the harness's own
process tree (it is their subreaper), everything below it is stopped too, the dead are
reaped, and nothing outside the runner's commands is looked at or touched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from runners import reaper
from runners.local import TOKEN_VAR, LocalRunner

pytestmark = pytest.mark.skipif(
    not reaper.adopt_orphans(), reason="no child subreaper here (not Linux 3.4+ with /proc)"
)


def _beats(beat: Path) -> None:
    """Wait (generously) until something appends to ``beat``."""
    before = beat.read_bytes() if beat.exists() else b""
    deadline = time.monotonic() + 60
    while (not beat.exists() or beat.read_bytes() == before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert beat.exists() and beat.read_bytes() != before


def _still(beat: Path) -> bool:
    stopped = beat.read_bytes()
    time.sleep(0.5)
    return beat.read_bytes() == stopped


def test_a_daemon_whose_child_cleared_its_environment_is_stopped(tmp_path: Path) -> None:
    # The token lives in the environment: `env -i` drops it. The old /proc scan killed the
    # setsid shell (it has the token) and left its env -i child (in a session of its own)
    # running.
    runner = LocalRunner(tmp_path)
    loop = "while :; do date +%N >> beat.txt; sleep 0.05; done"
    result = runner.run(
        f"setsid sh -c 'env -i setsid /bin/sh -c \"{loop}\" & wait' >/dev/null 2>&1 & "
        "sleep 0.2; echo started"
    )
    assert result.stdout == "started\n"
    beat = tmp_path / "beat.txt"
    _beats(beat)
    runner.stop()
    assert _still(beat)


def test_a_double_fork_into_a_new_session_is_stopped(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path)
    loop = 'trap "" TERM HUP INT; while :; do date +%N >> beat.txt; sleep 0.05; done'
    runner.run(f"(setsid sh -c '(sh -c \"{loop}\" &) ; exit 0' &) >/dev/null 2>&1; echo ok")
    beat = tmp_path / "beat.txt"
    _beats(beat)
    runner.stop()
    assert _still(beat)
    assert runner.run("echo again").stdout == "again\n"


def test_what_exited_by_itself_is_reaped_by_the_stop(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path)
    # (One that also left the command's session and died before the command ended carries
    # nothing to tell whose it is: it stays a zombie of the harness; runners/README.md.)
    result = runner.run("sleep 0.3 >/dev/null 2>&1 & echo $!; sh -c 'sleep 2 &' 2>/dev/null")
    left = int(result.stdout)
    deadline = time.monotonic() + 60
    while (info := reaper.stat(left)) is not None and info.state != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    runner.stop()
    zombies = [
        pid
        for pid in reaper.orphans()
        if (info := reaper.stat(pid)) is not None and info.state == "Z"
    ]
    assert left not in zombies
    assert reaper.stat(left) is None  # collected, not left as a zombie of the harness


def test_a_process_outside_the_commands_is_not_touched(tmp_path: Path) -> None:
    # The old stop() read the environment of every process of the machine and killed any
    # that carried the token; now only the runner's own commands' tree is looked at.
    runner = LocalRunner(tmp_path)
    runner.run("true")
    parent = subprocess.Popen(
        ["sh", "-c", f"env {TOKEN_VAR}={runner.token} sleep 60 & echo $!; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        outsider = int(parent.stdout.readline())
        marker = f"{TOKEN_VAR}={runner.token}".encode()
        deadline = time.monotonic() + 60
        while not reaper.carries(outsider, marker):  # `env` has exec'd `sleep`
            assert time.monotonic() < deadline
            time.sleep(0.02)
        runner.stop()
        info = reaper.stat(outsider)
        assert info is not None and info.state != "Z"
        assert parent.poll() is None
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_two_runners_stop_only_their_own(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = LocalRunner(tmp_path / "a")
    second = LocalRunner(tmp_path / "b")
    loop = "while :; do date +%N >> beat.txt; sleep 0.05; done"
    for runner in (first, second):
        runner.run(f"setsid sh -c '{loop}' >/dev/null 2>&1 & echo ok")
    _beats(tmp_path / "a" / "beat.txt")
    _beats(tmp_path / "b" / "beat.txt")
    first.stop()
    assert _still(tmp_path / "a" / "beat.txt")
    _beats(tmp_path / "b" / "beat.txt")  # the other run's server is still running
    second.stop()
    assert _still(tmp_path / "b" / "beat.txt")
