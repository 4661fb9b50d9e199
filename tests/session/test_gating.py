"""Gates through the pipeline: an approval reaches the tool as an argument, a park leaves the
call in flight, a denial is a result; the same for a call made from code mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.journal import Journal
from runners import Resources
from tests.session.inproc import (
    call,
    escalation,
    feature,
    features_on_disk,
    harnessed,
    journal_at,
    make_project,
    script,
    turn,
)

NO_CHECK = feature(1, check=None)


def _run(root: Path, turns: Any, *, run_id: str | None = None) -> tuple[Any, Any]:

    if run_id is None:
        with Journal.open(journal_at(root)) as journal:
            run_id = journal.start_run("run").id
    gates = escalation(root, run_id)
    h = harnessed(root, turns, gates=gates, run_id=run_id)
    outcome = h.run()
    h.close()
    return h, outcome


@pytest.mark.parametrize(
    "mark",
    [call("mark_passing", feature="F001"), call("code", program='mark_passing(feature="F001")')],
    ids=["direct", "code"],
)
def test_an_approval_marks_a_feature_without_a_check(fast_path: Path, mark: dict[str, Any]) -> None:
    root = make_project(fast_path / "p", NO_CHECK)
    turns = script(turn(mark), {"text": "done"})
    first, outcome = _run(root, turns)
    assert outcome.ending == "parked"
    assert features_on_disk(root)["F001"]["passes"] is False
    [question] = first.ctx.gates.store.pending()
    assert question.kind == "approval"
    first.ctx.gates.store.approve(question.id)
    first.ctx.gates.close()
    again, outcome = _run(root, turns, run_id=first.journal.run_id)
    again.ctx.gates.close()
    assert outcome.ending == "done"
    on_disk = features_on_disk(root)["F001"]
    assert on_disk["passes"] is True
    assert on_disk["evidence"]["verification"] == f"human:{question.id}"
    assert again.ctx.marked == ["F001"]


def test_without_an_approval_a_feature_without_a_check_stays_failing(fast_path: Path) -> None:
    """A hostile model calls mark_passing with no human configured: refused."""
    root = make_project(fast_path / "p", NO_CHECK)
    h = harnessed(root, script(turn(call("mark_passing", feature="F001")), {"text": "done"}))
    h.run()
    h.close()
    [result] = [m["content"] for m in h.messages if m["role"] == "tool"]
    assert "only a human's approval" in result
    assert features_on_disk(root)["F001"]["passes"] is False and h.ctx.marked == []


def test_a_denial_is_a_result_and_changes_nothing(fast_path: Path) -> None:
    root = make_project(fast_path / "p", NO_CHECK)
    turns = script(turn(call("mark_passing", feature="F001")), {"text": "done"})
    first, _ = _run(root, turns)
    [question] = first.ctx.gates.store.pending()
    first.ctx.gates.store.deny(question.id, "not convinced")
    first.ctx.gates.close()
    again, outcome = _run(root, turns, run_id=first.journal.run_id)
    again.ctx.gates.close()
    assert outcome.ending == "done"
    [result] = [m["content"] for m in again.messages if m["role"] == "tool"]
    assert "not convinced" in result and "POLICY" in result
    assert features_on_disk(root)["F001"]["passes"] is False and again.ctx.marked == []


def test_resources_above_the_maxima_are_granted_only_on_approval(fast_path: Path) -> None:

    root = make_project(fast_path / "p")
    ask = call("request_resources", memory_mb=9000, reason="oom")
    turns = script(turn(ask), {"text": "done"})
    # no human: refused by the tool itself
    h = harnessed(root, turns)
    h.ctx.max_resources = Resources(memory_mb=4096)
    h.run()
    h.close()
    assert h.ctx.resources is None
    assert "exceeds the configured maxima" in h.messages[3]["content"]
    # with a human who approves

    with Journal.open(journal_at(root)) as journal:
        run_id = journal.start_run("run").id
    for attempt in range(2):
        gates = escalation(root, run_id)
        h = harnessed(root, turns, gates=gates, run_id=run_id)
        h.ctx.max_resources = Resources(memory_mb=4096)
        outcome = h.run()
        h.close()
        if attempt == 0:
            assert outcome.ending == "parked"
            [question] = gates.store.pending()
            gates.store.approve(question.id)
        gates.close()
    assert outcome.ending == "done"
    assert h.ctx.resources is not None and h.ctx.resources.memory_mb == 9000


def test_ask_human_is_capped_per_session(fast_path: Path) -> None:
    root = make_project(fast_path / "p")

    with Journal.open(journal_at(root)) as journal:
        run_id = journal.start_run("run").id
    gates = escalation(root, run_id)
    gates.max_questions = 0
    h = harnessed(
        root,
        script(turn(call("ask_human", question="which?")), {"text": "ok"}),
        gates=gates,
        run_id=run_id,
    )
    h.run()
    h.close()
    gates.close()
    [result] = [m["content"] for m in h.messages if m["role"] == "tool"]
    assert "has asked its 0 questions" in result and h.ctx.questions == []


def test_an_unsure_turn_consults_a_human_and_the_answer_replays(fast_path: Path) -> None:
    root = make_project(fast_path / "p")

    with Journal.open(journal_at(root)) as journal:
        run_id = journal.start_run("run").id
    # every turn with text is scored (threshold 0: every one escalates); the last has none
    turns = script({"text": "I am not sure, maybe, perhaps I should guess?"}, {})
    gates = escalation(root, run_id, threshold=0.0)
    h = harnessed(root, turns, gates=gates, run_id=run_id)
    assert h.run().ending == "parked"
    h.close()
    [question] = gates.store.pending()
    gates.store.answer(question.id, "do X")
    gates.close()
    gates = escalation(root, run_id, threshold=0.0)
    again = harnessed(root, turns, gates=gates, run_id=run_id)
    outcome = again.run()
    again.close()
    gates.close()
    assert outcome.ending == "done" and again.model.calls == 1
    assert any("do X" in str(m["content"]) for m in again.messages if m["role"] == "user")
