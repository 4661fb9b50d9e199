"""The agent loop with the in-process scripted model: endings, faults, budgets, replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts.config import BudgetsConfig
from harness.errors import ModelFatal, QuotaExhausted
from harness.journal import Journal
from harness.model import Accounting
from harness.model.policy import RetriesExhausted
from session.loop import Limits
from tests.session.inproc import call, harnessed, journal_at, make_project, script, turn


@pytest.fixture
def root(fast_path: Path) -> Path:
    return make_project(fast_path / "p")


def test_a_turn_without_tool_calls_ends_the_loop(root: Path) -> None:
    h = harnessed(root, script(turn(call("note", text="a")), {"text": "all done"}))
    outcome = h.run()
    steps = h.steps()
    h.close()
    assert (outcome.ending, outcome.final_text, outcome.steps) == ("done", "all done", 3)
    assert [name for _, name, _ in steps] == [h.model.name, "note", h.model.name]
    assert h.ctx.notes == ["a"]


def test_a_prose_only_turn_gets_one_nudge_then_the_loop_ends(root: Path) -> None:

    h = harnessed(
        root, script({"text": "I would start by"}, {"text": "BLOCKED: no spec"}), nudge=True
    )
    outcome = h.run()
    h.close()
    assert (outcome.ending, outcome.final_text) == ("done", "BLOCKED: no spec")
    assert h.model.calls == 2 and not h.loop.changed  # nothing changed: an idle session


def test_every_tool_call_of_a_turn_gets_its_result_in_order(root: Path) -> None:
    h = harnessed(
        root,
        script(
            turn(call("note", text="one"), call("nope"), call("note", text="two")), {"text": "ok"}
        ),
    )
    h.run()
    h.close()
    assistant = h.messages[2]
    results = [m for m in h.messages if m["role"] == "tool"]
    assert [r["tool_call_id"] for r in results] == [c["id"] for c in assistant["tool_calls"]]
    assert results[0]["content"] == "noted"
    assert "unknown tool (a name of 4 characters)" in results[1]["content"]
    assert h.ctx.notes == ["one", "two"]


def test_the_step_limit_ends_the_loop_as_budget(root: Path) -> None:
    turns = [turn(call("note", text=str(i))) for i in range(10)]
    h = harnessed(root, script(*turns), limits=Limits(steps=4))
    outcome = h.run()
    h.close()
    assert outcome.ending == "budget" and "step limit 4" in outcome.detail
    assert outcome.steps == 4


def test_the_step_limit_counts_each_call_of_one_answer(root: Path) -> None:
    """A hostile answer of 500 calls runs as many as the limit allows, not all of them;
    every call still gets its result, so the transcript stays valid."""
    many = turn(*[call("note", text=str(i)) for i in range(500)])
    h = harnessed(root, script(many, {"text": "never reached"}), limits=Limits(steps=6))
    outcome = h.run()
    h.close()
    assert outcome.ending == "budget" and "step limit 6" in outcome.detail
    assert "495 call(s) not run" in outcome.detail
    assert h.ctx.notes == [str(i) for i in range(5)]  # the model call was step 1
    results = [m for m in h.messages if m["role"] == "tool"]
    assert len(results) == 500 and results[-1]["content"] == "not run: the step limit was reached"


def test_the_same_calls_with_the_same_results_three_times_is_stuck(root: Path) -> None:
    same = turn(call("read_file", path="missing.txt"))
    h = harnessed(root, script(same, same, same, {"text": "never reached"}))
    outcome = h.run()
    h.close()
    assert outcome.ending == "stuck" and "3 times in a row" in outcome.detail
    assert h.model.calls == 3


def test_a_token_budget_stops_the_loop_before_the_next_call(root: Path) -> None:

    h = harnessed(root, script(*[turn(call("note", text=str(i))) for i in range(10)]))
    h.loop.accounting = Accounting(BudgetsConfig(session_tokens=150))
    h.loop.accounting.start_session()
    outcome = h.run()
    h.close()
    assert outcome.ending == "budget" and "session_tokens" in outcome.detail
    assert 1 <= h.model.calls < 10


def test_retried_faults_cost_attempts_not_turns(root: Path) -> None:
    h = harnessed(
        root, script({"text": "fine", "fault": "rate_limit", "times": 2, "retry_after": 1.5})
    )
    outcome = h.run()
    [llm] = [s for s in h.store.steps(run_id=h.journal.run_id) if s.kind == "llm"]

    with Journal.open_readonly(journal_at(root)) as journal:
        detail = journal.step_detail(h.journal.run_id, 1, llm.seq)
    h.close()
    assert outcome.ending == "done" and outcome.final_text == "fine"
    assert h.model.calls == 3
    assert detail is not None
    assert detail.output["attempts"] == 3 and detail.output["retry_delays_s"] == [1.5, 1.5]


def test_retried_faults_past_the_attempts_give_up_as_the_gateway_does(root: Path) -> None:
    h = harnessed(root, script({"text": "never", "fault": "server_error", "times": 50}))
    with pytest.raises(RetriesExhausted) as info:
        h.run()
    h.close()
    assert info.value.kind == "InternalServerError" and info.value.attempts == h.model.max_attempts


@pytest.mark.parametrize(("fault", "error"), [("quota", QuotaExhausted), ("auth", ModelFatal)])
def test_faults_the_gateway_does_not_retry_reach_the_caller(
    root: Path, fault: str, error: type[Exception]
) -> None:
    h = harnessed(root, script({"text": "never", "fault": fault}))
    with pytest.raises(error):
        h.run()
    h.close()


def test_a_context_window_error_compacts_and_asks_again(root: Path) -> None:
    turns = [turn(call("note", text=str(i))) for i in range(8)]
    turns.append({"text": "after compaction", "fault": "context_window"})
    h = harnessed(root, script(*turns))
    outcome = h.run()
    h.close()
    assert outcome.ending == "done" and outcome.final_text == "after compaction"
    assert any("[harness: compacted" in str(m.get("content")) for m in h.messages)
    assert h.ctx.notes == [str(i) for i in range(8)]


def test_spoiled_tool_arguments_come_back_as_a_result_the_model_reads(root: Path) -> None:
    h = harnessed(
        root, script(turn(call("note", text="x"), fault="bad_tool_args"), {"text": "sorry"})
    )
    outcome = h.run()
    h.close()
    assert outcome.ending == "done"
    [result] = [m for m in h.messages if m["role"] == "tool"]
    assert "not valid JSON" in result["content"]
    assert h.ctx.notes == []


def test_a_resumed_loop_replays_its_turns_without_calling_the_model(root: Path) -> None:
    turns = script(
        turn(call("note", text="kept")),
        turn(call("read_file", path="progress.md")),
        {"text": "end"},
    )
    first = harnessed(root, turns)
    first.run()
    first.close()
    again = harnessed(root, turns, run_id=first.journal.run_id)
    outcome = again.run()
    again.close()
    assert outcome.ending == "done" and outcome.final_text == "end"
    assert again.model.calls == 0
    assert again.ctx.notes == ["kept"]
    assert again.messages == first.messages


def test_a_resume_pays_the_models_set_up_only_at_its_first_live_call(root: Path) -> None:
    """The model's slow set-up (`prepare`: litellm's import, 2-3 s of CPU) is no part of a
    replay: a resume whose turns are all recorded never pays it, and one that goes on
    pays it once, at its first live model call, after the replayed steps."""

    turns = script(turn(call("note", text="a")), turn(call("note", text="b")), {"text": "end"})
    first = harnessed(root, turns)
    first.run()
    first.close()
    assert first.model.calls == 3
    seen: list[tuple[str, int]] = []
    again = harnessed(root, turns, run_id=first.journal.run_id)
    again.model.prepare = lambda: seen.append(("prepare", again.journal.last_seq))  # type: ignore[method-assign]
    assert again.run().ending == "done"
    again.close()
    assert again.model.calls == 0 and seen == []  # all replayed: no set-up paid

    class Crash(BaseException):
        pass

    steps = {"n": 0}

    def crash_at_second_tool() -> None:
        steps["n"] += 1
        if steps["n"] == 2:
            raise Crash

    other = make_project(root.parent / "other")
    crashed = harnessed(other, turns, on_step=crash_at_second_tool)
    with pytest.raises(Crash):
        crashed.run()
    crashed.close()
    resumed = harnessed(other, turns, run_id=crashed.journal.run_id)
    resumed.model.prepare = lambda: seen.append(("prepare", resumed.journal.last_seq))  # type: ignore[method-assign]
    assert resumed.run().ending == "done"
    resumed.close()
    assert resumed.model.calls == 1  # the last turn, live
    assert seen == [("prepare", 4)]  # once, after the 4 replayed steps


def test_a_crash_mid_call_resumes_with_that_call_run_again(root: Path) -> None:
    class Crash(BaseException):
        pass

    calls = {"n": 0}

    def crash_at_second() -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash

    turns = script(turn(call("note", text="a")), turn(call("note", text="b")), {"text": "end"})
    first = harnessed(root, turns, on_step=crash_at_second)
    with pytest.raises(Crash):
        first.run()
    first.close()
    again = harnessed(root, turns, run_id=first.journal.run_id)
    outcome = again.run()
    steps = again.steps()
    again.close()
    assert outcome.ending == "done" and again.ctx.notes == ["a", "b"]
    assert again.model.calls == 1  # only the last turn was not recorded
    assert [s for s in steps if s[2] != "ended"] == []
