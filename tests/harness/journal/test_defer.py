"""One commit a step, on the stores where a commit costs (SQLite, PostgreSQL): a quick
idempotent step's end rides with the next write.

What must hold: a reader sees every step that ended once anything follows it (or within
FLUSH_AFTER_S when nothing does, or at close); a crash loses at most such an end, and that
step then runs again; a model call's or a human's step, a non-idempotent step and a slow
step are written at once, so a kill right after them pays for nothing twice. The flusher
is one thread per process, not one per burst nor one per journal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.errors import JournalError
from harness.journal import Journal, Location
from harness.journal.door import DEFER_S
from harness.journal.protocol import open_reader
from harness.journal.records import Begin

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def lazy(where: Location) -> Location:
    """The stores whose ends are deferred (in memory a commit costs nothing)."""
    if where.backend == "memory":
        pytest.skip("the in-memory store writes every end at once: a commit costs nothing")
    return where


def _statuses(where: Location) -> list[tuple[str, str, int]]:
    with open_reader(where) as reader:
        return [(s.name, s.status, s.attempts) for s in reader.steps()]


def test_an_end_is_written_with_the_next_start_in_one_commit(lazy: Location) -> None:
    seen: list[list[tuple[str, str, int]]] = []
    with Journal.open(lazy) as journal:
        session = journal.start_run().session(1)
        session.step("tool", "quick", {}, lambda: 1)
        session.step("tool", "next", {}, lambda: seen.append(_statuses(lazy)) or 2)
    # Inside the second step's work, the first one's end is already committed.
    assert seen == [[("quick", "ended", 1), ("next", "started", 1)]]
    assert _statuses(lazy) == [("quick", "ended", 1), ("next", "ended", 1)]  # close wrote it


def test_an_end_with_nothing_after_it_is_written_by_the_flusher(lazy: Location) -> None:
    with Journal.open(lazy) as journal:
        journal.start_run().session(1).step("tool", "quick", {}, lambda: 1)
        deadline = time.monotonic() + 10  # liveness bound only: FLUSH_AFTER_S is 50 ms
        while _statuses(lazy)[-1][1] != "ended":
            assert time.monotonic() < deadline, "the deferred end was never written"
            time.sleep(0.01)


def test_one_flusher_thread_for_a_burst_of_quick_steps(lazy: Location) -> None:
    before = threading.active_count()
    with Journal.open(lazy) as journal:
        session = journal.start_run().session(1)
        for i in range(200):
            session.step("tool", "quick", {"i": i}, lambda i=i: i)
            assert threading.active_count() <= before + 1
    assert threading.active_count() == before  # stopped at close
    assert len(_statuses(lazy)) == 200


def test_one_flusher_thread_for_many_journals(lazy: Location, tmp_path: Path) -> None:
    """A worker holds many runs' journals: their deferred ends share one thread, and
    each is written by it (the thread is the journal's, whatever the store)."""
    if lazy.backend != "sqlite":
        pytest.skip("the flusher is the same for every store: SQLite shows it")
    before = threading.active_count()
    places = [_sibling(lazy, tmp_path, k) for k in range(12)]
    journals = [Journal.open(where) for where in places]
    try:
        for journal in journals:
            journal.start_run().session(1).step("tool", "quick", {}, lambda: 1)
        assert threading.active_count() <= before + 1
        deadline = time.monotonic() + 30  # liveness bound only: FLUSH_AFTER_S is 50 ms
        while any(_statuses(where)[-1][1] != "ended" for where in places):
            assert time.monotonic() < deadline, "a deferred end was never written"
            time.sleep(0.01)
    finally:
        for journal in journals:
            journal.close()
    assert threading.active_count() == before  # gone with the last journal


def test_steps_that_must_not_run_twice_are_written_at_once(lazy: Location) -> None:
    with Journal.open(lazy, flush_after_s=None) as journal:  # no flusher: deferred stays so
        session = journal.start_run().session(1)
        session.step("llm", "model", {}, lambda: {"text": "paid for"})
        assert _statuses(lazy)[-1] == ("model", "ended", 1)
        session.step("human", "answer", {}, lambda: "yes")
        assert _statuses(lazy)[-1] == ("answer", "ended", 1)
        session.step("git", "commit", {}, lambda: "sha", idempotent=False)
        assert _statuses(lazy)[-1] == ("commit", "ended", 1)
        session.step("tool", "slow", {}, lambda: time.sleep(DEFER_S * 2) or 1)
        assert _statuses(lazy)[-1] == ("slow", "ended", 1)
        session.step("tool", "quick", {}, lambda: 1)
        assert _statuses(lazy)[-1] == ("quick", "started", 1)  # deferred


KILLED_AFTER = """
import os, signal, sys
from pathlib import Path
from harness.journal import Journal, Location
effects = Path(sys.argv[2])
where = Location(Path(sys.argv[1]), url=sys.argv[3] or None, project=sys.argv[1])
journal = Journal.open(where, flush_after_s=None)
run_id = journal.unfinished_run()
run = journal.resume_run(run_id) if run_id else journal.start_run()
session = run.session(1)
def work(name, value):
    def run():
        with effects.open("a") as f:
            f.write(name + "\\n")
        return value
    return run
session.step("llm", "model", {}, work("model", {"text": "hi"}))
session.step("tool", "quick", {}, work("quick", 7))
if len(sys.argv) > 4:
    os.kill(os.getpid(), signal.SIGKILL)  # before anything wrote the quick step's end
session.step("tool", "last", {}, work("last", 8))
run.finish("complete", {})
journal.close()
"""


def test_a_kill_after_a_quick_step_runs_it_again_and_nothing_else(
    lazy: Location, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-c", KILLED_AFTER, str(lazy.state_dir), str(effects), lazy.url or ""]
    killed = subprocess.run([*argv, "die"], env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == -9, killed.stderr
    assert _statuses(lazy) == [("model", "ended", 1), ("quick", "started", 1)]
    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    # The model call is replayed (paid once); the quick step whose end was lost runs again.
    assert effects.read_text().split() == ["model", "quick", "quick", "last"]
    assert _statuses(lazy) == [("model", "ended", 1), ("quick", "ended", 2), ("last", "ended", 1)]


def test_a_start_that_fails_writes_neither_it_nor_the_deferred_end(
    lazy: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deferred end and the next start are one transaction (one statement on
    PostgreSQL): a start the store refuses leaves the end deferred, written later, once."""

    # Quick by the test's say, not the clock's: at load 20 a step of `lambda: 1` took over
    # DEFER_S (its end then written at once, and nothing left deferred to test).
    monkeypatch.setattr("harness.journal.door.DEFER_S", 60.0)
    # No flusher: on a loaded machine it may write the end before the refused start.
    with Journal.open(lazy, flush_after_s=None) as journal:
        run = journal.start_run()
        session = run.session(1)
        session.step("tool", "quick", {}, lambda: 1)
        assert journal._pending is not None  # the end is deferred
        again = Begin(run.id, 1, 1, "tool", "again", "d" * 64, "{}", None, 1, time.time(), b"m")
        with pytest.raises(JournalError):
            journal.begin(again)  # step 1 is recorded already
        assert journal._pending is not None  # neither written: still to write
        assert _statuses(lazy) == [("quick", "started", 1)]
        session.step("tool", "next", {}, lambda: 2)
    assert _statuses(lazy) == [("quick", "ended", 1), ("next", "ended", 1)]


def _sibling(where: Location, tmp_path: Path, k: int) -> Location:
    """Another project's journal on the same server (its own schema on PostgreSQL)."""
    state = tmp_path / f"p{k}" / ".harness"
    return Location(state)
