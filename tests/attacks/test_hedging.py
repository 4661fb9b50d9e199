"""A model that hedges in every turn cannot stop an unattended run: a hedge alone never
parks it (issue 25). Only a gate, or a score above the threshold without the hedging (here:
a confidence of 0.05 the model states in its tool call), parks it, and the question says
why it was asked. Real `harness init` + `harness run --unattended`, scripted model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escalation.questions import QuestionStore
from escalation.record import Record
from tests.attacks.support import project, run, runner_for
from tests.session.support import call, harness_out, passing, turn

HEDGES = "I think, maybe, I'm not sure, it might be unclear, perhaps I should guess"


def hedging_turns() -> list[dict[str, object]]:
    return [
        turn(call("write_file", path="done_a.txt", content="done\n"), text=HEDGES + "."),
        turn(call("verify_feature", feature="F001"), text="Maybe this passes? " + HEDGES),
        turn(call("mark_passing", feature="F001"), text="Probably fine. " + HEDGES),
        {"text": "F001 is done, I believe, perhaps."},
    ]


def test_a_hedging_model_does_not_park_an_unattended_run(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = project(tmp_path / "p", runner_for("local", request), sessions={1: hedging_turns()})
    code, report = run(root, tmp_path)
    assert (code, report["outcome"]) == (0, "complete"), report
    assert passing(root) == ["F001"]
    code, out = harness_out(root, "questions", "--json")
    assert json.loads(out) == []
    with Record.of_project(root / ".harness") as record:
        found = record.outcomes()
    assert len(found) == 4 and not any(o.asked for o in found)
    above = [o for o in found if o.score > o.threshold]
    # above the threshold through its hedging alone, and recorded as such
    assert above and all(o.hedge_only and o.structured == 0.0 for o in above), found
    assert found[0].hedge_only and found[0].uncertainty > 0.9
    code, out = harness_out(root, "escalation", "--json")
    assert code == 0 and json.loads(out)["labels"]["hedge_only"] == len(above)


def test_a_stated_low_confidence_parks_it_and_the_question_says_why(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    unsure = call("write_file", path="done_a.txt", content="done\n", confidence=0.05)
    turns = [turn(unsure, text="Writing the file the spec names."), {"text": "done"}]
    root = project(tmp_path / "p", runner_for("local", request), sessions={1: turns})
    code, report = run(root, tmp_path)
    assert code == 4 and report["outcome"] == "waiting_for_human", report
    code, out = harness_out(root, "questions", "--json")
    [question] = json.loads(out)
    assert "Writing the file the spec names" in question["text"]

    with QuestionStore(root / ".harness") as store:
        reason = store.get(question["id"]).reason
    assert "> threshold 0.600" in reason and "confidence 0.05" in reason
    assert not (root / "done_a.txt").exists()  # the held-back call did not run
