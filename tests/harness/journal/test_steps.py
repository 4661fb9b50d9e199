"""The step door on every store: record, replay, in-flight re-run, recovery, divergence,
cache, errors, locks (the conformance suite: each test runs on SQLite, memory, PostgreSQL)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ValidationError

from harness.errors import BudgetExhausted, JournalError, Parked, RunLocked, RunnerError, StepFailed
from harness.journal import DivergenceWarning, Journal, Location


class Answer(BaseModel):
    text: str
    n: int


def test_record_then_replay_returns_recorded_outputs_without_running(where: Location) -> None:
    calls: list[int] = []
    with Journal.open(where) as journal:
        run = journal.start_run(meta={"goal": "x"})
        s = run.session(1)
        assert s.step("tool", "a", {"i": 1}, lambda: calls.append(1) or {"v": 1}) == {"v": 1}
        live = s.step("llm", "b", {"i": 2}, lambda: Answer(text="hi", n=2), output=Answer)
        assert s.last_seq == 2 and s.ref(2) == f"journal:{journal.id}/{run.id}/1/2"
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.replaying
        assert s.step("tool", "a", {"i": 1}, lambda: calls.append(9) or {"v": 9}) == {"v": 1}
        replayed = s.step("llm", "b", {"i": 2}, lambda: Answer(text="no", n=0), output=Answer)
        assert replayed == live and isinstance(replayed, Answer)
        assert not s.replaying
        s.step("tool", "c", {}, lambda: 3)
        assert calls == [1]
        assert [r.seq for r in journal.steps(run.id, 1)] == [1, 2, 3]


class Call(BaseModel):
    name: str
    args: dict[str, Any]


class Turned(BaseModel):
    text: str | None
    calls: list[Call]
    at: datetime
    score: float | int
    kind: Literal["a", "b"]


def test_a_replayed_output_is_rebuilt_as_the_live_one_was(where: Location) -> None:
    """A replayed output is read from its recorded JSON text into the step's type: the
    same value and types as the live one (escapes, nested models, a union, a datetime, a
    string large enough to be kept by reference); one the type cannot read says so."""
    at = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    args = {"k": [1, 2.5, None, True, {"z": "ü 😀"}], "big": 2**70}
    values = [
        Turned(
            text='é \u2028 "q" \\ \x00',
            calls=[Call(name="n", args=args)],
            at=at,
            score=1.0,
            kind="b",
        ),
        Turned(text="x" * (70 * 1024), calls=[], at=at, score=3, kind="a"),
        Turned(text=None, calls=[], at=at, score=0.1, kind="a"),
    ]
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        for i, value in enumerate(values):
            s.step("llm", "m", {"i": i}, lambda value=value: value, output=Turned)
        s.step("llm", "m", {"i": 9}, lambda: Answer(text="t", n=1), output=Answer)
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        for i, value in enumerate(values):
            again = s.step("llm", "m", {"i": i}, lambda: None, output=Turned)
            assert again == value and type(again.score) is type(value.score)
        with pytest.raises(ValidationError):
            s.step("llm", "m", {"i": 9}, lambda: None, output=Turned)  # the type changed


def test_failed_step_records_typed_error_and_replay_reraises(where: Location) -> None:
    def boom() -> None:
        raise BudgetExhausted("session_tokens", 100, 120)

    def plain() -> None:
        raise ValueError("bad value")

    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        with pytest.raises(BudgetExhausted):
            s.step("llm", "call", {}, boom)
        with pytest.raises(ValueError):
            s.step("tool", "v", {}, plain)
        s.step("tool", "after", {}, lambda: "went on")  # the session went on from it
        detail = journal.step_detail(run.id, 1, 1)
        assert detail is not None and detail.status == "failed"
        assert detail.error is not None and detail.error["class"] == "BudgetExhausted"
        assert detail.error["data"]["limit"] == 100
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        with pytest.raises(BudgetExhausted) as first:
            s.step("llm", "call", {}, lambda: None)
        assert first.value.budget == "session_tokens" and first.value.used == 120
        assert "session_tokens" in str(first.value)
        with pytest.raises(StepFailed) as second:
            s.step("tool", "v", {}, lambda: None)
        assert second.value.error_class == "ValueError"
        assert "bad value" in str(second.value)
        assert s.step("tool", "after", {}, lambda: "no") == "went on"


def test_in_flight_step_runs_again_with_attempts_counted(where: Location) -> None:
    def crash() -> int:
        raise KeyboardInterrupt  # not an Exception: the step stays in flight

    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        s.step("tool", "a", {}, lambda: 1)
        with pytest.raises(KeyboardInterrupt):
            s.step("tool", "b", {}, crash)
        assert journal.steps(run.id)[-1].status == "started"
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("tool", "a", {}, lambda: 99) == 1
        assert s.step("tool", "b", {}, lambda: 2) == 2
        row = journal.steps(run.id)[-1]
        assert (row.status, row.attempts) == ("ended", 2)


def test_non_idempotent_in_flight_step_recovers_from_the_world(where: Location) -> None:
    effects: list[str] = []

    def commit_then_die() -> str:
        effects.append("commit")
        raise KeyboardInterrupt

    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        with pytest.raises(KeyboardInterrupt):
            s.step("git", "commit", {}, commit_then_die, idempotent=False)
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        sha = s.step(
            "git", "commit", {}, lambda: effects.append("again") or "new",
            idempotent=False, recover=lambda: "abc123" if "commit" in effects else None,
        )  # fmt: skip
        assert sha == "abc123" and effects == ["commit"]
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("git", "commit", {}, lambda: "zzz", idempotent=False) == "abc123"


def test_divergence_supersedes_the_rest_and_goes_live(
    where: Location, caplog: pytest.LogCaptureFixture
) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        for name in ("a", "b", "c"):
            s.step("tool", name, {}, lambda name=name: name.upper())
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("tool", "a", {}, lambda: "x") == "A"
        with pytest.warns(DivergenceWarning, match="recorded tool/b"):
            assert s.step("tool", "B2", {}, lambda: "new") == "new"
        assert "divergence" in caplog.text
        assert s.step("tool", "c", {}, lambda: "c-live") == "c-live"
        live = journal.steps(run.id, 1)
        assert [(r.seq, r.name, r.status) for r in live] == [
            (1, "a", "ended"), (2, "B2", "ended"), (3, "c", "ended"),
        ]  # fmt: skip
        every = journal.steps(run.id, 1, include_superseded=True)
        assert sorted(r.name for r in every if r.status == "superseded") == ["b", "c"]


def test_a_step_newer_code_adds_is_seen_missing_and_the_replay_goes_on(where: Location) -> None:
    """A session recorded without a step the code now asks for: `recorded_next` names the
    recorded step the replay expects, so the code does that step's work unrecorded and the
    recorded steps replay on (nothing superseded, nothing run again); live, None."""
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        for name in ("a", "c"):
            s.step("tool", name, {}, lambda name=name: name.upper())
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.recorded_next() == ("tool", "a")
        assert s.step("tool", "a", {}, lambda: "x") == "A"
        assert s.recorded_next() == ("tool", "c")  # not "b": added since, not recorded
        assert s.step("tool", "c", {}, lambda: "x") == "C"
        assert s.recorded_next() is None and not s.replaying
        assert s.step("tool", "d", {}, lambda: "D") == "D"
        every = journal.steps(run.id, 1, include_superseded=True)
        assert [(r.seq, r.name, r.status, r.attempts) for r in every] == [
            (1, "a", "ended", 1), (2, "c", "ended", 1), (3, "d", "ended", 1),
        ]  # fmt: skip


def test_cache_hits_across_runs_keyed_by_inputs_and_version(where: Location) -> None:
    calls: list[int] = []

    def work() -> dict[str, int]:
        calls.append(1)
        return {"out": len(calls)}

    with Journal.open(where) as journal:
        s1 = journal.start_run().session(1)
        assert s1.step("tool", "lint", {"f": "a"}, work, cache=True) == {"out": 1}
        s2 = journal.start_run().session(1)
        assert s2.step("tool", "lint", {"f": "a"}, work, cache=True) == {"out": 1}
        assert s2.step("tool", "lint", {"f": "b"}, work, cache=True) == {"out": 2}
        assert s2.step("tool", "lint", {"f": "a"}, work, cache=True, version="2") == {"out": 3}
        assert s2.step("tool", "lint", {"f": "a"}, work) == {"out": 4}  # not opted in
        stats = journal.cache_stats()
        assert [(c.kind, c.name, c.hits, c.misses) for c in stats] == [("tool", "lint", 1, 3)]
        assert [r.cached for r in journal.steps(s2.run_id)] == [True, False, False, False]


def test_usage_columns_and_large_outputs_in_blobs(where: Location) -> None:
    big = "y" * 40_000
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        s.step("llm", "c", {}, lambda: {"usage": {"total_tokens": 42, "cost_usd": 0.5}})
        s.step("tool", "big", {"blob": big}, lambda: big)
        rows = journal.steps(run.id)
        assert (rows[0].tokens, rows[0].cost_usd) == (42, 0.5)
        detail = journal.step_detail(run.id, 1, 2)
        assert detail is not None and detail.output == big and detail.inputs == {"blob": big}
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        s.step("llm", "c", {}, lambda: None)
        assert s.step("tool", "big", {}, lambda: "") == big


def test_run_lock_refuses_a_second_driver_and_names_the_pid(where: Location) -> None:

    with Journal.open(where) as first:
        run = first.start_run()
        assert first.unfinished_run() == run.id
        with Journal.open(where) as second, pytest.raises(RunLocked) as err:
            second.resume_run(run.id)
        assert str(os.getpid()) in str(err.value) and err.value.exit_code == 6
        run.finish("complete", {"ok": True})
        assert first.unfinished_run() is None
        with Journal.open(where) as third:
            third.resume_run(run.id)  # released by finish


def test_sessions_and_read_api(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        assert run.next_session_number() == 1
        s = run.session(1, meta={"feature": "f1"})
        s.step("tool", "a", {}, lambda: 1)
        s.close("progress", {"done": 1})
        assert run.next_session_number() == 2
        sessions = journal.sessions(run.id)
        assert sessions[0].status == "closed" and sessions[0].meta == {"feature": "f1"}
        first = journal.steps()[0].rowid
        run.session(2).step("tool", "b", {}, lambda: 2)
        assert [r.name for r in journal.steps(since_rowid=first)] == ["b"]
        assert journal.runs()[0].id == run.id


def test_unserialisable_output_is_a_clear_error(where: Location) -> None:
    with Journal.open(where) as journal:
        s = journal.start_run().session(1)
        with pytest.raises(JournalError, match="JSON"):
            s.step("tool", "x", {}, lambda: object())


def test_replay_after_a_divergence_follows_the_new_branch(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        s.step("tool", "a", {}, lambda: 1)
        s.step("tool", "old", {}, lambda: 2)
    with Journal.open(where) as journal, pytest.warns(DivergenceWarning):
        s = journal.resume_run(run.id).session(1)
        s.step("tool", "a", {}, lambda: 0)
        s.step("tool", "new", {}, lambda: 3)
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("tool", "a", {}, lambda: 0) == 1
        assert s.step("tool", "new", {}, lambda: 0) == 3
        assert not s.replaying


def test_parked_and_runner_errors_leave_the_step_in_flight(where: Location) -> None:
    """A step that raises Parked or RunnerError runs again on resume, not replayed as failed."""

    calls: list[str] = []

    def waiting() -> str:
        calls.append("ask")
        raise Parked("q1", "which way?")

    def engine_down() -> str:
        calls.append("run")
        raise RunnerError("Docker is unreachable.", kind="daemon_unreachable")

    with Journal.open(where) as journal:
        run = journal.start_run()
        session = run.session(1)
        with pytest.raises(Parked):
            session.step("human", "ask", {}, waiting)
        run_id = run.id
    with Journal.open(where) as journal:
        session = journal.resume_run(run_id).session(1)
        assert session.step("human", "ask", {}, lambda: "left") == "left"
        with pytest.raises(RunnerError):
            session.step("runner", "cmd", {}, engine_down)
    with Journal.open(where) as journal:
        session = journal.resume_run(run_id).session(1)
        assert session.step("human", "ask", {}, waiting) == "left"  # replayed, not re-asked
        assert session.step("runner", "cmd", {}, lambda: "ok") == "ok"
        steps = journal.steps(run_id=run_id)
    assert calls == ["ask", "run"]
    assert [(s.name, s.status, s.attempts) for s in steps] == [
        ("ask", "ended", 2),
        ("cmd", "ended", 2),
    ]
