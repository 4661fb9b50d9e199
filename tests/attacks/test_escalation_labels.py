"""A model that avoids asking cannot hide the change it should have asked about by undoing it
in a later session, nor wash the label out by redoing it (issue 25, labels across
sessions). Real `harness init` + `harness run --unattended` (three sessions of one run),
scripted model: it states full confidence on every change, so the matrix never asks.

Session 1 rewrites notes.txt unasked; session 2 puts it back as it was. At session 2's end
the harness relabels session 1's decision "should have asked" (in the project record and
the user record). Session 3 writes session 1's version again: the relabel stays.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escalation.record import Record, user_record_path
from harness.journal.keys import state_home
from tests.attacks.support import project, run, runner_for
from tests.session.support import call, harness_out, passing, turn


def sure(path: str, content: str) -> dict[str, object]:
    return call("write_file", path=path, content=content, confidence=1.0)


def feature_turns(k: int, letter: str, notes: str, said: str) -> list[dict[str, object]]:
    return [
        turn(sure("notes.txt", notes), sure(f"done_{letter}.txt", "done\n"), text=said),
        turn(call("verify_feature", feature=f"F00{k}")),
        turn(call("mark_passing", feature=f"F00{k}")),
        {"text": f"F00{k} done."},
    ]


def test_a_change_undone_next_session_is_labelled_should_have_asked(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sessions = {
        1: feature_turns(1, "a", "rewritten by session 1\n", "Rewriting the notes as agreed."),
        2: feature_turns(2, "b", "original\n", "Tidying the notes up."),
        3: feature_turns(3, "c", "rewritten by session 1\n", "Restoring my notes."),
    }
    root = project(
        tmp_path / "p", runner_for("local", request), sessions=sessions, count=3,
        toml="[budgets]\nrun_sessions = 3\n", files={"notes.txt": "original\n"},
    )  # fmt: skip
    code, report = run(root, tmp_path)
    assert (code, report["outcome"]) == (0, "complete"), report
    assert passing(root) == ["F001", "F002", "F003"]
    with Record.of_project(root / ".harness") as record:
        found = record.outcomes()
    turns = [o for o in found if o.source == "turn"]  # the change, then "F00k done."
    assert [o.session for o in turns] == [1, 1, 2, 2, 3, 3] and not any(o.asked for o in turns)
    first, second, third = turns[0::2]
    assert not any(o.should_ask for o in turns[1::2])  # their windows changed nothing
    said = "undone in session 2: 1 file(s) back as before"
    assert first.should_ask and first.relabeled == said
    assert first.undone is False  # at its own session's end the change was still there
    # session 3 redid session 1's change: session 2's decision is the one undone now, and
    # session 1's label is not washed out
    assert second.should_ask and (second.relabeled or "").startswith("undone in session 3")
    assert not third.should_ask and third.relabeled is None
    with Record(user_record_path(state_home())) as user:
        mine = {o.key: o for o in user.outcomes() if o.key in {first.key, second.key}}
    assert all(o.should_ask and o.relabeled for o in mine.values()) and len(mine) == 2
    code, out = harness_out(root, "escalation", "--json")
    assert code == 0 and json.loads(out)["labels"]["later_session"] == 2
    code, out = harness_out(root, "escalation")
    assert code == 0 and "shown by a later session 2;" in out
