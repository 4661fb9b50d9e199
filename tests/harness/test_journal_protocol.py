"""The journal protocol: the SQLite journal's read methods, and the chaos decorator.

That the SQLite classes and ChaosJournal implement the protocols is checked by mypy (they
are passed where the protocols are expected); these tests check what the methods return.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pytest

from harness.errors import JournalError
from harness.journal import DivergenceWarning
from harness.journal.protocol import StepJournal, open_reader, open_store
from session.chaos import ChaosJournal, CrashSwitch


def write_two_sessions(state: Path) -> str:
    with open_store(state) as journal:
        run = journal.start_run()
        one = run.session(1)
        one.step("llm", "a", {}, lambda: {"usage": {"total_tokens": 10, "cost_usd": 0.5}})
        one.step("tool", "b", {}, lambda: {"usage": {"total_tokens": 5, "cost_usd": 0.25}})
        one.close("complete", {})
        two = run.session(2)
        two.step("llm", "a", {}, lambda: {"usage": {"total_tokens": 7, "cost_usd": 1.0}})
        run_id = run.id
    return run_id


def test_reader_totals_and_last_rowid(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    run_id = write_two_sessions(state)
    with open_reader(state) as reader:
        assert reader.last_rowid() == max(s.rowid for s in reader.steps()) == 3
        assert reader.session_totals() == {(run_id, 1): (2, 15, 0.75), (run_id, 2): (1, 7, 1.0)}
        assert reader.session_totals(run_id, 2) == {(run_id, 2): (1, 7, 1.0)}
        assert reader.session_totals("no-such-run") == {}
        assert reader.latest_run() == run_id
        assert [s.number for s in reader.sessions(run_id)] == [1, 2]


def test_totals_count_live_steps_and_every_token_paid(tmp_path: Path) -> None:
    # A superseded step is not shown (not counted), but its tokens and dollars were spent.
    state = tmp_path / ".harness"
    run_id = write_two_sessions(state)
    with open_store(state) as journal:
        again = journal.resume_run(run_id).session(2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            again.step("tool", "other", {}, lambda: {"usage": {"total_tokens": 1, "cost_usd": 0}})
    with open_reader(state) as reader:
        assert reader.session_totals(run_id, 2) == {(run_id, 2): (1, 8, 1.0)}
        assert [s.name for s in reader.steps(run_id, 2)] == ["other"]


def test_an_empty_journal_reads_as_empty(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    open_store(state).close()
    with open_reader(state) as reader:
        assert (reader.last_rowid(), reader.session_totals(), reader.latest_run()) == (0, {}, None)


def test_the_reader_never_writes_and_does_not_block_a_writer(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    run_id = write_two_sessions(state)
    with open_store(state) as writer, open_reader(state) as reader:
        with pytest.raises(JournalError, match="read-only"):
            reader.start_run()  # not on the reader protocol; the SQLite reader refuses it
        run = writer.resume_run(run_id)
        with writer.transaction():  # a write transaction held open while the reader reads
            writer.execute("UPDATE runs SET holder_pid = 1 WHERE id = ?", (run_id,))
            assert reader.last_rowid() == 3
            assert reader.session_totals(run_id, 1)[(run_id, 1)][0] == 2
        run.session(3).step("tool", "c", {}, lambda: 1)
        assert reader.last_rowid() == 4  # a WAL reader sees the committed write
    connection = sqlite3.connect(state / "journal.db")
    assert connection.execute("SELECT count(*) FROM steps").fetchone()[0] == 4
    connection.close()


def test_chaos_journal_is_a_transparent_step_journal(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    never = CrashSwitch(state, at_step=None, at=None)
    with open_store(state) as journal:
        run = journal.start_run()
        inner = run.session(1)
        chaos: StepJournal = ChaosJournal(inner, never)
        assert chaos.step("tool", "a", {"x": 1}, lambda: {"v": 1}, idempotent=False) == {"v": 1}
        assert (chaos.seq, chaos.last_seq, chaos.replaying) == (1, 1, False)
        assert chaos.ref(1) == inner.ref(1)
        assert chaos.ref(1).startswith("journal:") and chaos.ref(1).endswith(f"/{run.id}/1/1")
        chaos.close("complete", {"feature": None})
        run_id = run.id
    with open_store(state) as journal:
        inner = journal.resume_run(run_id).session(1)
        chaos = ChaosJournal(inner, never)
        assert chaos.replaying
        assert chaos.step("tool", "a", {"x": 1}, lambda: {"v": 2}) == {"v": 1}  # replayed
        assert not chaos.replaying
        [session] = journal.sessions(run_id)
        [step] = journal.steps(run_id)
        assert (session.status, session.outcome) == ("closed", "complete")
        assert step.idempotent is False  # the options reached the wrapped journal


def test_chaos_journal_wraps_only_the_configured_step(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    switch = CrashSwitch(state, at_step=None, at="git:commit#2")
    calls: list[str] = []
    with open_store(state) as journal:
        chaos = ChaosJournal(journal.start_run().session(1), switch)
        chaos.step("git", "commit", {"n": 1}, lambda: calls.append("first") or 1)
        chaos.step("tool", "commit", {"n": 2}, lambda: calls.append("other kind") or 2)
    assert calls == ["first", "other kind"]
    assert switch.seen == 1  # counted the first git:commit only; the second would kill us
