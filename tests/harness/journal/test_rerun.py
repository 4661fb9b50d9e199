"""What a recorded failure means on resume (``harness.errors.Disposition``): a failure that
ended its session's record and is not a decision runs again (a git, storage, memory or
model fault, a bug); a decision (a spent budget, a compaction signal) and a failure the
session went on from replay; waits leave the step in flight. On every store."""

from __future__ import annotations

import pytest

from harness.errors import (
    BudgetExhausted,
    ContextWindowExceeded,
    GitError,
    ModelFatal,
    ProviderUnavailable,
    StepFailed,
    StorageError,
)
from harness.journal import Journal, Location
from harness.journal.verify import verify


@pytest.mark.parametrize(
    "error",
    [IndexError("list index out of range"), ModelFatal("bad key")],
    ids=["a-bug-recorded-as-failed", "model-fatal"],
)
def test_a_failed_or_fatal_last_model_step_runs_again(where: Location, error: Exception) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)

        def broken() -> str:
            raise error

        with pytest.raises(type(error)):
            s.step("llm", "m", {}, broken)
    calls = []
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("llm", "m", {}, lambda: calls.append(1) or "answer") == "answer"
    assert calls == [1]  # asked again, not the failure replayed
    assert verify(where).ok  # the re-run result is chained like any other
    with Journal.open(where) as journal:
        assert journal.resume_run(run.id).session(1).step("llm", "m", {}, lambda: "no") == "answer"


def test_an_outage_leaves_the_step_in_flight_with_its_attempts(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        error = ProviderUnavailable("waiting for the provider since t: down", since="t")

        def down() -> str:
            raise error

        with pytest.raises(ProviderUnavailable):
            s.step("llm", "m", {}, down)
        detail = journal.step_detail(run.id, 1, 1)
        assert detail is not None and detail.status == "started"
        assert detail.error is not None and detail.error["data"]["since"] == "t"
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("llm", "m", {}, lambda: "back") == "back"
        assert s.resumed_in_flight
    assert verify(where).ok  # the noted error is gone with the result; the chain holds


def test_a_compaction_signal_and_a_failed_step_before_others_replay(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)

        def too_long() -> str:
            raise ContextWindowExceeded("too long")

        with pytest.raises(ContextWindowExceeded):
            s.step("llm", "m", {}, too_long)
        s.step("llm", "m", {}, lambda: "after compaction")
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        with pytest.raises(ContextWindowExceeded):
            s.step("llm", "m", {}, lambda: "must not run")
        assert s.step("llm", "m", {}, lambda: "must not run") == "after compaction"


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("git", GitError("git commit failed: index.lock")),
        ("tool", OSError(5, "Input/output error")),
        ("tool", MemoryError()),
        ("runner", KeyError("a bug since fixed")),
    ],
    ids=["git", "os-error", "memory", "a-bug"],
)
def test_a_fault_that_ended_the_record_runs_again_on_resume(
    where: Location, kind: str, error: Exception
) -> None:
    """Issue 23's rule: a recorded failure that is not the model's own verdict is retried,
    not replayed as the outcome (it may not recur: a lock since gone, memory since freed)."""
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        s.step("llm", "m", {}, lambda: "paid once")

        def fault() -> str:
            raise error

        with pytest.raises(type(error)):
            s.step(kind, "work", {}, fault)
    calls: list[str] = []
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("llm", "m", {}, lambda: calls.append("model") or "again") == "paid once"
        assert s.step(kind, "work", {}, lambda: calls.append("work") or "done") == "done"
        steps = journal.steps(run.id)
    assert calls == ["work"]
    assert [(r.name, r.status, r.attempts) for r in steps] == [
        ("m", "ended", 1),
        ("work", "ended", 2),
    ]
    assert verify(where).ok


def test_a_decision_that_ended_the_record_replays(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)

        def spent() -> str:
            raise BudgetExhausted("session_tokens", 100, 150)

        with pytest.raises(BudgetExhausted):
            s.step("llm", "m", {}, spent)
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        with pytest.raises(BudgetExhausted) as again:
            s.step("llm", "m", {}, lambda: "must not run")
    assert again.value.used == 150


def test_a_fault_the_session_went_on_from_replays(where: Location) -> None:
    """History: the session saw the failure and went on (and paid for what came after);
    running the step again could change the path and repay every later model call."""
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)

        def fault() -> str:
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError):
            s.step("tool", "write", {}, fault)
        s.step("llm", "m", {}, lambda: "after the failure")
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        with pytest.raises(StepFailed) as replayed:
            s.step("tool", "write", {}, lambda: "must not run")
        assert s.step("llm", "m", {}, lambda: "no") == "after the failure"
    assert replayed.value.error_class == "OSError"


def test_a_storage_error_in_a_step_leaves_it_in_flight(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)

        def full() -> str:
            raise StorageError("/project", "full")

        with pytest.raises(StorageError):
            s.step("tool", "write", {}, full)
        assert journal.steps(run.id)[-1].status == "started"
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("tool", "write", {}, lambda: "written") == "written"
        assert s.resumed_in_flight
