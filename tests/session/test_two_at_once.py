"""Two `harness run` started at once on a project with no unfinished run: exactly one runs;
the other exits 6 naming the pid of the one that does, having written nothing.

Each child is a fork of this test paused, by a wrapper of the check between "which run is
unfinished?" and "start a run", until the test lets it go: before, both children found no
run and got there (each then started a run of its own in the same work tree); now the
second is refused before anything, at the project's run lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.journal import Journal
from session.run import check_dollar_budget
from tests.session.support import _child, init, make_project

DEADLINE_S = 600.0  # only a hung child's bound: the test waits on outcomes


def paused_in_the_window(folder: Path) -> Callable[..., Any]:
    """A wrapper of session.run.check_dollar_budget (called after the run to resume is
    looked up, before one is started) that says it got there and waits to be let go."""

    def paused(*args: Any, **kwargs: Any) -> Any:
        (folder / f"inside-{os.getpid()}").touch()
        with open(folder / f"go-{os.getpid()}", "rb") as go:  # a FIFO: waits for the test
            go.read(1)
        return check_dollar_budget(*args, **kwargs)

    return paused


def start(root: Path, folder: Path, *args: str) -> int:
    """`harness -C root run ...` in a forked child writing to files in ``folder``."""
    pid = os.fork()
    if pid == 0:
        os.mkfifo(folder / f"go-{os.getpid()}")
        out = os.open(folder / f"out-{os.getpid()}", os.O_WRONLY | os.O_CREAT, 0o644)
        err = os.open(folder / f"err-{os.getpid()}", os.O_WRONLY | os.O_CREAT, 0o644)
        _child(main, ["-C", str(root), "run", *args], {}, out, err)
    return pid


def wait_until(what: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not what():
        assert time.monotonic() < deadline, "a child hung"
        time.sleep(0.05)


@pytest.mark.slow  # two harness children
def test_two_runs_started_at_once_one_runs_the_other_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=2)
    init(root)
    folder = tmp_path / "children"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as paused:
        paused.setattr("session.run.check_dollar_budget", paused_in_the_window(folder))
        pids = [start(root, folder, "--max-sessions", "1") for _ in range(2)]
    exited: dict[int, int] = {}

    def settled() -> bool:
        """Both children in the window, or one there and the other ended."""
        for pid in pids:
            if pid not in exited:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    exited[pid] = os.waitstatus_to_exitcode(status)
        inside = [pid for pid in pids if (folder / f"inside-{pid}").exists()]
        return len(inside) == 2 or (len(inside) == 1 and len(exited) == 1)

    wait_until(settled)
    for pid in pids:
        if (folder / f"inside-{pid}").exists():
            with open(folder / f"go-{pid}", "wb") as go:
                go.write(b"g")
    for pid in pids:
        if pid not in exited:
            exited[pid] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    with Journal.open_readonly(root / ".harness") as journal:
        runs = [r for r in journal.runs() if r.kind == "run"]
    assert len(runs) == 1, f"{len(runs)} runs started: {runs}"
    refused = [pid for pid in pids if exited[pid] == 6]
    assert len(refused) == 1, exited
    (winner,) = set(pids) - set(refused)
    said = (folder / f"err-{refused[0]}").read_text()
    assert f"pid {winner}" in said, said
    assert not (folder / f"inside-{refused[0]}").exists()  # refused before it looked
    assert runs[0].holder_pid == winner
