"""The CLI: harness questions / answer / approve / deny, through harness.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escalation.questions import QuestionStore, Scores
from harness.cli import main


def _seed(project: Path) -> None:
    with QuestionStore(project / ".harness") as store:
        store.ask(
            "question",
            "Which database?",
            "spec is silent",
            ["sqlite", "postgres"],
            Scores(uncertainty=0.8, novelty=0.4, benefit=0.5, total=0.59),
            session=2,
        )
        store.ask("approval", "Approve `git push`?", session=2)
        store.ask("question", "Anything else?", session=2)


def test_questions_empty_project(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(project), "questions"]) == 0
    assert "No questions waiting" in capsys.readouterr().out
    assert main(["-C", str(project), "questions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not (project / ".harness").exists()  # listing creates nothing


def test_list_answer_approve_deny(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _seed(project)
    assert main(["-C", str(project), "questions"]) == 0
    out = capsys.readouterr().out
    assert "q1" in out and "Which database?" in out and "[2] postgres" in out and "0.59" in out
    assert main(["-C", str(project), "questions", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    assert rows[0]["choices"] == ["sqlite", "postgres"] and rows[0]["session"] == 2
    assert rows[0]["scores"]["total"] == 0.59 and rows[1]["kind"] == "approval"
    assert {"id", "kind", "text", "choices", "scores", "asked_at", "session"} <= set(rows[0])

    assert main(["-C", str(project), "answer", "q1", "--choice", "2"]) == 0
    assert "q1 answered: postgres" in capsys.readouterr().out
    doc = tmp_path / "extra.md"
    doc.write_text("more")
    assert main(["-C", str(project), "answer", "q3", "see file", "--file", str(doc)]) == 0
    assert "human_inputs/q3/extra.md" in capsys.readouterr().out
    assert main(["-C", str(project), "deny", "q2", "--reason", "not yet"]) == 0
    assert "q2 denied" in capsys.readouterr().out
    with QuestionStore(project / ".harness") as store:
        assert store.pending() == []
        assert store.get("q2").deny_reason == "not yet"
        assert store.get("q3").files == ["human_inputs/q3/extra.md"]


def test_cli_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(project), "answer", "q1", "yes"]) == 2
    assert "nothing was ever asked there" in capsys.readouterr().err
    _seed(project)
    assert main(["-C", str(project), "answer", "q7", "yes"]) == 2
    assert "no question 'q7'" in capsys.readouterr().err
    assert main(["-C", str(project), "approve", "q9"]) == 2
    assert main(["-C", str(project), "answer", "q1"]) == 2
    assert "give the answer" in capsys.readouterr().err
    assert main(["-C", str(project), "answer", "q1", "--choice", "0"]) == 2
    assert main(["-C", str(project), "answer", "q1", "--choice", "3"]) == 2
    assert main(["-C", str(project), "approve", "q1"]) == 2
    assert main(["-C", str(project), "approve", "q2"]) == 0
    capsys.readouterr()
    assert main(["-C", str(project), "approve", "q2"]) == 2
    assert "already approved" in capsys.readouterr().err
