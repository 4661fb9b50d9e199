"""The read API on every store (what `log`, `status`, the TUI read), one ``RunState``, and
the chaos decorator.

That the backends and ChaosJournal implement the protocols is checked by mypy (they are
passed where the protocols are expected); these tests check what the methods return.
"""

from __future__ import annotations

import os
import time
import warnings

import pytest

from harness.errors import JournalError
from harness.journal import DivergenceWarning, Location
from harness.journal.protocol import StepJournal, journal_exists, open_reader, open_store
from harness.journal.state import newest_state, run_states
from session.chaos import ChaosJournal, CrashSwitch


def write_two_sessions(where: Location) -> str:
    with open_store(where) as journal:
        run = journal.start_run()
        one = run.session(1)
        one.step("llm", "a", {}, lambda: {"usage": {"total_tokens": 10, "cost_usd": 0.5}})
        one.step("tool", "b", {}, lambda: {"usage": {"total_tokens": 5, "cost_usd": 0.25}})
        one.close("complete", {})
        two = run.session(2)
        two.step("llm", "a", {}, lambda: {"usage": {"total_tokens": 7, "cost_usd": 1.0}})
        run_id = run.id
    return run_id


def test_reader_totals_and_last_rowid(where: Location) -> None:
    run_id = write_two_sessions(where)
    with open_reader(where) as reader:
        assert reader.last_rowid() == max(s.rowid for s in reader.steps()) == 3
        assert reader.session_totals() == {(run_id, 1): (2, 15, 0.75), (run_id, 2): (1, 7, 1.0)}
        assert reader.session_totals(run_id, 2) == {(run_id, 2): (1, 7, 1.0)}
        assert reader.session_totals("no-such-run") == {}
        assert reader.latest_run() == run_id
        assert [s.number for s in reader.sessions(run_id)] == [1, 2]


def test_totals_count_live_steps_and_every_token_paid(where: Location) -> None:
    # A superseded step is not shown (not counted), but its tokens and dollars were spent.
    run_id = write_two_sessions(where)
    with open_store(where) as journal:
        again = journal.resume_run(run_id).session(2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            again.step("tool", "other", {}, lambda: {"usage": {"total_tokens": 1, "cost_usd": 0}})
    with open_reader(where) as reader:
        assert reader.session_totals(run_id, 2) == {(run_id, 2): (1, 8, 1.0)}
        assert [s.name for s in reader.steps(run_id, 2)] == ["other"]


def test_an_empty_journal_reads_as_empty(where: Location) -> None:
    open_store(where).close()
    with open_reader(where) as reader:
        assert (reader.last_rowid(), reader.session_totals(), reader.latest_run()) == (0, {}, None)


def test_the_reader_never_writes(where: Location) -> None:
    run_id = write_two_sessions(where)
    with open_store(where) as writer, open_reader(where) as reader:
        with pytest.raises(AttributeError):
            reader.start_run()  # type: ignore[attr-defined]  # a reader has no writes
        writer.resume_run(run_id).session(3).step("tool", "c", {}, lambda: 1)
        assert reader.last_rowid() == 4  # it sees what the writer committed
        assert [s.number for s in reader.sessions(run_id)] == [1, 2, 3]


def test_journal_exists_without_making_one(where: Location) -> None:
    assert not journal_exists(where)
    with pytest.raises(JournalError, match=r"(?i)no journal|nothing has run"):
        open_reader(where)
    assert not journal_exists(where)  # the attempt to read made nothing
    open_store(where).close()
    assert journal_exists(where)


def test_run_state_says_running_parked_interrupted_finished(where: Location) -> None:
    with open_store(where) as journal:
        parked = journal.start_run()
        parked.park("waiting_for_human", {"detail": "question q1"})
        live = journal.start_run()
        assert newest_state(journal) is not None
        running = newest_state(journal)
        assert running is not None and running.state == "running" and running.pid == os.getpid()
        live.finish("complete", {"detail": "all 2 features pass"})
        assert [s.state for s in run_states(journal)] == ["running", "finished"]  # its lock
    with open_reader(where) as reader:  # the writer closed: the parked run's lock is free
        first, second = run_states(reader)
    assert (first.state, first.detail, first.resumable) == (
        "waiting_for_human", "question q1", True
    )  # fmt: skip
    assert first.words() == "parked: waiting for a human"
    assert (second.state, second.outcome) == ("finished", "complete")
    assert second.words() == "finished: complete" and not second.resumable
    with open_store(where) as journal:
        killed = journal.start_run()
        killed_id = killed.id
        journal.release(killed_id)  # as a process killed mid-run: its lock gone, no outcome
        state = newest_state(journal)
    assert state is not None and (state.run_id, state.state) == (killed_id, "interrupted")


def test_chaos_journal_is_a_transparent_step_journal(where: Location) -> None:
    never = CrashSwitch(where.state_dir, at_step=None, at=None)
    with open_store(where) as journal:
        run = journal.start_run()
        inner = run.session(1)
        chaos: StepJournal = ChaosJournal(inner, never)
        assert chaos.step("tool", "a", {"x": 1}, lambda: {"v": 1}, idempotent=False) == {"v": 1}
        assert (chaos.seq, chaos.last_seq, chaos.replaying) == (1, 1, False)
        assert chaos.ref(1) == inner.ref(1)
        assert chaos.ref(1).startswith("journal:") and chaos.ref(1).endswith(f"/{run.id}/1/1")
        chaos.close("complete", {"feature": None})
        run_id = run.id
    with open_store(where) as journal:
        inner = journal.resume_run(run_id).session(1)
        chaos = ChaosJournal(inner, never)
        assert chaos.replaying
        assert chaos.step("tool", "a", {"x": 1}, lambda: {"v": 2}) == {"v": 1}  # replayed
        assert not chaos.replaying
        [session] = journal.sessions(run_id)
        [step] = journal.steps(run_id)
        assert (session.status, session.outcome) == ("closed", "complete")
        assert step.idempotent is False  # the options reached the wrapped journal


def test_chaos_journal_wraps_only_the_configured_step(where: Location) -> None:
    switch = CrashSwitch(where.state_dir, at_step=None, at="git:commit#2")
    calls: list[str] = []
    with open_store(where) as journal:
        chaos = ChaosJournal(journal.start_run().session(1), switch)
        chaos.step("git", "commit", {"n": 1}, lambda: calls.append("first") or 1)
        chaos.step("tool", "commit", {"n": 2}, lambda: calls.append("other kind") or 2)
    assert calls == ["first", "other kind"]
    assert switch.seen == 1  # counted the first git:commit only; the second would kill us


def test_runs_are_ordered_as_they_began_whatever_the_clock(
    where: Location, monkeypatch: pytest.MonkeyPatch
) -> None:

    clock = iter([2_000_000_000.0, 1_000_000_000.0])  # the clock went back between them
    monkeypatch.setattr(time, "time", lambda: next(clock, 1_000_000_001.0))
    with open_store(where) as journal:
        first = journal.start_run()
        first.park("waiting", {"detail": "the provider"})
        second = journal.start_run()
        assert [r.id for r in journal.runs()] == [first.id, second.id]
        assert journal.latest_run() == second.id
        assert journal.unfinished_run() == second.id


def test_sessions_are_ordered_as_they_began_whatever_the_clock(
    where: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock goes back between sessions and between runs: `sessions()` still lists
    them in the order the journal recorded them (run by run, then by number), so the
    newest session (status, the TUI, the idle streak) is the one that began last."""

    now = [3_000_000_000.0]

    def clock() -> float:
        now[0] -= 1_000.0  # every reading earlier than the one before
        return now[0]

    monkeypatch.setattr(time, "time", clock)
    with open_store(where) as journal:
        first = journal.start_run()
        first.session(1).close("complete", {})
        first.session(2).close("complete", {})
        first.park("waiting", {"detail": "the provider"})
        second = journal.start_run()
        second.session(3).close("complete", {})
        second.session(4)
        listed = [(s.run_id, s.number) for s in journal.sessions()]
        assert listed == [(first.id, 1), (first.id, 2), (second.id, 3), (second.id, 4)]
        assert [s.number for s in journal.sessions(second.id)] == [3, 4]
    with open_reader(where) as reader:
        assert [(s.run_id, s.number) for s in reader.sessions()] == listed
