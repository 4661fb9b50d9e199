"""Failed model steps that the user (or a later harness) can fix run again on resume;
harness decisions and compaction signals replay; fixable model errors stay in flight."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ContextWindowExceeded, ModelFatal, ProviderUnavailable
from harness.journal import Journal
from harness.journal.verify import verify


@pytest.mark.parametrize(
    "error",
    [IndexError("list index out of range"), ModelFatal("bad key")],
    ids=["a-bug-recorded-as-failed", "model-fatal"],
)
def test_a_failed_or_fatal_last_model_step_runs_again(tmp_path: Path, error: Exception) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run()
        s = run.session(1)

        def broken() -> str:
            raise error

        with pytest.raises(type(error)):
            s.step("llm", "m", {}, broken)
    calls = []
    with Journal.open(state) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("llm", "m", {}, lambda: calls.append(1) or "answer") == "answer"
    assert calls == [1]  # asked again, not the failure replayed
    assert verify(state).ok  # the re-run result is chained like any other
    with Journal.open(state) as journal:
        assert journal.resume_run(run.id).session(1).step("llm", "m", {}, lambda: "no") == "answer"


def test_an_outage_leaves_the_step_in_flight_with_its_attempts(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
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
    with Journal.open(state) as journal:
        s = journal.resume_run(run.id).session(1)
        assert s.step("llm", "m", {}, lambda: "back") == "back"
        assert s.resumed_in_flight
    assert verify(state).ok  # the noted error is gone with the result; the chain holds


def test_a_compaction_signal_and_a_failed_step_before_others_replay(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run()
        s = run.session(1)

        def too_long() -> str:
            raise ContextWindowExceeded("too long")

        with pytest.raises(ContextWindowExceeded):
            s.step("llm", "m", {}, too_long)
        s.step("llm", "m", {}, lambda: "after compaction")
    with Journal.open(state) as journal:
        s = journal.resume_run(run.id).session(1)
        with pytest.raises(ContextWindowExceeded):
            s.step("llm", "m", {}, lambda: "must not run")
        assert s.step("llm", "m", {}, lambda: "must not run") == "after compaction"
