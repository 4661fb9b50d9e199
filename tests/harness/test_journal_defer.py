"""One commit a step: a quick idempotent step's end rides with the next statement.

What must hold: a reader sees every step that ended once anything follows it (or within
FLUSH_AFTER_S when nothing does, or at close); a crash loses at most such an end, and that
step then runs again; a model call's or a human's step, a non-idempotent step and a slow
step are written at once, so a kill right after them pays for nothing twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from harness.journal import Journal
from harness.journal.session import DEFER_S

REPO = Path(__file__).resolve().parents[2]


def _statuses(state: Path) -> list[tuple[str, str, int]]:
    with Journal.open_readonly(state) as reader:
        return [(s.name, s.status, s.attempts) for s in reader.steps()]


def test_an_end_is_written_with_the_next_start_in_one_commit(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    seen: list[list[tuple[str, str, int]]] = []
    with Journal.open(state) as journal:
        session = journal.start_run().session(1)
        session.step("tool", "quick", {}, lambda: 1)
        session.step("tool", "next", {}, lambda: seen.append(_statuses(state)) or 2)
    # Inside the second step's work, the first one's end is already committed.
    assert seen == [[("quick", "ended", 1), ("next", "started", 1)]]
    assert _statuses(state) == [("quick", "ended", 1), ("next", "ended", 1)]  # close wrote it


def test_an_end_with_nothing_after_it_is_written_by_the_timer(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        journal.start_run().session(1).step("tool", "quick", {}, lambda: 1)
        deadline = time.monotonic() + 10  # liveness bound only: FLUSH_AFTER_S is 50 ms
        while _statuses(state)[-1][1] != "ended":
            assert time.monotonic() < deadline, "the deferred end was never written"
            time.sleep(0.01)


def test_steps_that_must_not_run_twice_are_written_at_once(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        session = journal.start_run().session(1)
        journal_timer_off(journal)
        session.step("llm", "model", {}, lambda: {"text": "paid for"})
        assert _statuses(state)[-1] == ("model", "ended", 1)
        session.step("human", "answer", {}, lambda: "yes")
        assert _statuses(state)[-1] == ("answer", "ended", 1)
        session.step("git", "commit", {}, lambda: "sha", idempotent=False)
        assert _statuses(state)[-1] == ("commit", "ended", 1)
        session.step("tool", "slow", {}, lambda: time.sleep(DEFER_S * 2) or 1)
        assert _statuses(state)[-1] == ("slow", "ended", 1)
        session.step("tool", "quick", {}, lambda: 1)
        assert _statuses(state)[-1] == ("quick", "started", 1)  # deferred, timer held off


def journal_timer_off(journal: Journal) -> None:
    """Arm a timer that never fires, so what is deferred stays deferred in this test."""
    import threading

    journal._timer = threading.Timer(3600, lambda: None)


KILLED_AFTER = """
import os, signal, sys
from pathlib import Path
from harness.journal import Journal
effects = Path(sys.argv[2])
journal = Journal.open(Path(sys.argv[1]))
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
if len(sys.argv) > 3:
    journal._timer.cancel()  # the kill comes before the timer could write the end
    os.kill(os.getpid(), signal.SIGKILL)
session.step("tool", "last", {}, work("last", 8))
run.finish("complete", {})
journal.close()
"""


def test_a_kill_after_a_quick_step_runs_it_again_and_nothing_else(tmp_path: Path) -> None:
    state, effects = tmp_path / ".harness", tmp_path / "effects.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HARNESS_STATE_HOME": str(tmp_path / "keys")}
    argv = [sys.executable, "-c", KILLED_AFTER, str(state), str(effects)]
    killed = subprocess.run([*argv, "die"], env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == -9, killed.stderr
    assert _statuses(state) == [("model", "ended", 1), ("quick", "started", 1)]
    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    # The model call is replayed (paid once); the quick step whose end was lost runs again.
    assert effects.read_text().split() == ["model", "quick", "quick", "last"]
    assert _statuses(state) == [("model", "ended", 1), ("quick", "ended", 2), ("last", "ended", 1)]
