"""Two harness commands at once on one project: exactly one goes on, the other exits 6
naming the pid of the one that does, having written nothing.

- Two `harness run` on a project with no unfinished run: each child (a fork of this test)
  is paused by a wrapper of the check between "which run is unfinished?" and "start a run"
  until the test lets it go. Before, both children found no run and got there (each then
  started a run of its own in the same work tree); now the second is refused first.
- `harness run` while `harness demo` is between writing its project's files and its init:
  the demo is paused there. Before, the run wrote the demo's files again and ran the init
  itself (the demo's own init then failed); now the run is refused until the demo's init
  is done.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import harness.cli.demo as demo
from harness.cli import main
from harness.hostpath import NEUTRAL_CWD, child_env
from harness.journal import Journal
from harness.model.pricing import check_dollar_budget
from tests.session.scripted_child import SCRIPTED
from tests.session.support import _child, harness_proc, harness_run, init, make_project

DEADLINE_S = 600.0  # only a hung child's bound: the test waits on outcomes


def pause(folder: Path) -> None:
    """In a child: say it got here, then wait until the test lets it go."""
    (folder / f"inside-{os.getpid()}").touch()
    with open(folder / f"go-{os.getpid()}", "rb") as go:  # a FIFO: waits for the test
        go.read(1)


def let_go(folder: Path, pid: int) -> None:
    with open(folder / f"go-{pid}", "wb") as go:
        go.write(b"g")


def paused_in_the_window(folder: Path) -> Callable[..., Any]:
    """A wrapper of session.run.check_dollar_budget (called after the run to resume is
    looked up, before one is started) that pauses there."""

    def paused(*args: Any, **kwargs: Any) -> Any:
        pause(folder)
        return check_dollar_budget(*args, **kwargs)

    return paused


@pytest.fixture
def children() -> Iterator[list[int]]:
    """The forked children a test starts: one still there at its end (an assertion that
    failed left it paused) is killed and reaped."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ChildProcessError):  # reaped by the test
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def start(children: list[int], folder: Path, *argv: str) -> int:
    """`harness argv...` in a forked child writing to files in ``folder``."""
    pid = os.fork()
    if pid == 0:
        os.mkfifo(folder / f"go-{os.getpid()}")
        out = os.open(folder / f"out-{os.getpid()}", os.O_WRONLY | os.O_CREAT, 0o644)
        err = os.open(folder / f"err-{os.getpid()}", os.O_WRONLY | os.O_CREAT, 0o644)
        _child(main, list(argv), {}, out, err)
    children.append(pid)
    return pid


def wait_until(what: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not what():
        assert time.monotonic() < deadline, "a child hung"
        time.sleep(0.05)


def ended(pid: int, exited: dict[int, int]) -> bool:
    """Whether child ``pid`` has ended (its exit code then in ``exited``)."""
    if pid not in exited:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            exited[pid] = os.waitstatus_to_exitcode(status)
    return pid in exited


def test_two_runs_started_at_once_one_runs_the_other_is_refused(
    tmp_path: Path, children: list[int]
) -> None:
    root = make_project(tmp_path / "p", count=2)
    init(root)
    folder = tmp_path / "children"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as paused:
        paused.setattr("session.run.check_dollar_budget", paused_in_the_window(folder))
        argv = ("-C", str(root), "run", "--max-sessions", "1")
        pids = [start(children, folder, *argv) for _ in range(2)]
    exited: dict[int, int] = {}

    def settled() -> bool:
        """Both children in the window, or one there and the other ended."""
        for pid in pids:
            ended(pid, exited)
        inside = [pid for pid in pids if (folder / f"inside-{pid}").exists()]
        return len(inside) == 2 or (len(inside) == 1 and len(exited) == 1)

    wait_until(settled)
    for pid in pids:
        if (folder / f"inside-{pid}").exists():
            let_go(folder, pid)
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


def files(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` (but the run lock's) with its bytes and mtime."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and path.name != "run.lock":
            found[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


@pytest.mark.slow  # a demo child, its init child, a run child
def test_a_run_beside_a_demo_setting_up_is_refused_and_the_demo_goes_on(
    tmp_path: Path, children: list[int]
) -> None:
    target = tmp_path / "demo"
    folder = tmp_path / "children"
    folder.mkdir()

    def paused_before_init(where: Path, *args: str, **kwargs: Any) -> int:
        if args[0] == "run":
            return 0  # the demo's sessions are not this test's subject
        pause(folder)  # its files written, its init not started
        # Its init a child, as the demo's own (`demo._harness`), whose scripted model is
        # answered in process: no `import litellm` (the gateway is not this test's subject).
        command = [*SCRIPTED, "-C", str(where.absolute()), *args]
        return subprocess.run(command, env=child_env(), cwd=NEUTRAL_CWD).returncode

    with pytest.MonkeyPatch.context() as paused:
        paused.setattr(demo, "_harness", paused_before_init)
        paused.setattr(demo, "_summary", lambda target, wall_s, code: None)
        pid = start(children, folder, "demo", str(target), "--no-crash")
    exited: dict[int, int] = {}
    wait_until(lambda: (folder / f"inside-{pid}").exists() or ended(pid, exited))
    assert not exited, (folder / f"err-{pid}").read_text()
    before = files(target)
    assert "harness.toml" in before and "feature_list.json" not in before

    beside = harness_proc(target, "run", "--max-sessions", "1")
    assert beside.returncode == 6, beside.stderr[-2000:]
    assert f"pid {pid}" in beside.stderr and "busy" in beside.stderr
    status = harness_run(target, "status")  # not "not a harness project yet" (exit 2)
    assert status.returncode == 6 and f"pid {pid}" in status.stderr, status.stderr
    runs = harness_run(target, "runs")
    assert runs.returncode == 0 and f"pid {pid}" in runs.stdout, runs.stdout
    assert files(target) == before  # nothing written

    let_go(folder, pid)
    wait_until(lambda: ended(pid, exited))
    assert exited[pid] == 0, (folder / f"err-{pid}").read_text()[-3000:]
    with Journal.open_readonly(target / ".harness") as journal:
        inits = [(r.kind, r.outcome) for r in journal.runs()]
    assert inits == [("init", "complete")]
