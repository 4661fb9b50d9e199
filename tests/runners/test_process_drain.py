"""The host runners (local, bubblewrap) keep all a command wrote, however late they read.

runners/process.py stops reading ``DRAIN_S`` after it sees the command's exit (a
background child may hold the pipes for ever). On a loaded machine the harness can see
the exit and then wait for a CPU longer than that before it reads: what the command wrote
before its exit was still in the pipes and was lost (exit 0, empty output; for
bubblewrap, the shell's "started" byte too: "the sandbox did not start"). Here the window
is as wide as it gets: the harness first looks once the command has exited, and stops
reading at once (``DRAIN_S = 0``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runners import process
from runners.bwrap import BubblewrapRunner, bwrap_version
from runners.local import LocalRunner


@pytest.fixture
def late_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = process._pidfd

    def after_the_exit(pid: int) -> int | None:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited; still to be reaped
        return opened(pid)

    monkeypatch.setattr(process, "_pidfd", after_the_exit)
    monkeypatch.setattr(process, "DRAIN_S", 0.0)


def _runner(kind: str, root: Path) -> LocalRunner | BubblewrapRunner:
    if kind == "local":
        return LocalRunner(root)
    if bwrap_version() is None:
        pytest.skip("bubblewrap cannot run here")
    return BubblewrapRunner(root)


@pytest.mark.parametrize("kind", ["local", "bwrap"])
def test_what_a_command_wrote_before_its_exit_is_kept(
    kind: str, tmp_path: Path, late_reader: None
) -> None:
    runner = _runner(kind, tmp_path)
    big = 50_000  # within a pipe's 64 KiB: the command does not wait for the reader
    result = runner.run(f"echo again; echo said >&2; head -c {big} /dev/zero | tr '\\0' x")
    assert result.exit_code == 0 and result.failure is None, result.failure
    assert result.stdout.startswith("again\n") and result.stderr == "said\n", result
    assert result.stdout.count("x") == big
