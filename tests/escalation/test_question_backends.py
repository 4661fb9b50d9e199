"""The question queue on each of the journal's stores (SQLite, memory, PostgreSQL): asked by
one store, seen and answered through another (another process, another machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalation.question_db import questions_exist
from escalation.questions import QuestionError, QuestionStore, Scores
from harness.journal import Location
from harness.redact import Redactor


def test_asked_on_one_answered_on_another(where: Location, tmp_path: Path) -> None:
    assert not questions_exist(where)
    secret = "plain words that are a secret 4711"
    asker = QuestionStore(where, project_root=tmp_path, redactor=Redactor({"X_TOKEN": secret}))
    scores = Scores(uncertainty=0.5, total=0.4)
    first = asker.ask("question", f"which way? ({secret})", choices=["left", "right"],
                      scores=scores, key="k1", session=None)  # fmt: skip
    again = asker.ask("question", "asked again on replay", key="k1")
    approval = asker.ask("approval", "push?", session=2, run="r1")
    assert again.id == first.id and questions_exist(where)
    assert secret not in first.text
    with QuestionStore(where, project_root=tmp_path) as other:
        assert [q.id for q in other.pending()] == [first.id, approval.id]
        other.answer(first.id, choice=1)
        other.deny(approval.id, "not today")
        with pytest.raises(QuestionError, match="already"):
            other.approve(approval.id)
    answered = asker.get(first.id)
    assert (answered.status, answered.answer, answered.choice) == ("answered", "right", 1)
    assert asker.count_asked(None) == 1 and asker.count_asked(2, "r1") == 0
    row = asker.add_situation("e", "ask_human", f"saw {secret}", [0.5, 0.25], session=1)
    assert asker.situations_after("e", row - 1) == [(row, [0.5, 0.25])]
    asker.close()
