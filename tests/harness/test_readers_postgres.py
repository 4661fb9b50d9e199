"""The read commands and the TUI's data layer on a journal in PostgreSQL (``HARNESS_JOURNAL_URL``):
`status`, `log`, `runs`, `questions`, `journal verify` read it; nothing is made under
.harness/ for it; a project pointed at another project's database is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escalation.questions import QuestionStore
from harness.cli import main
from harness.errors import JournalError
from harness.journal import Journal, Location
from tui.data import ProjectData


def _project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "feature_list.json").write_text(json.dumps({"version": 1, "features": []}))
    return root


def test_the_readers_read_the_database(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p")
    monkeypatch.setenv("HARNESS_JOURNAL_URL", pg_url)
    where = Location(root / ".harness", url=pg_url, project=str(root))
    with Journal.open(where) as journal:
        run = journal.start_run()
        session = run.session(1)
        session.step("llm", "m", {}, lambda: {"usage": {"total_tokens": 12, "cost_usd": 0.5}})
        session.step("tool", "t", {}, lambda: 1)
        run.park("waiting_for_human", {"detail": "question q1: which way?"})
    with QuestionStore(where, project_root=root) as questions:
        questions.ask("question", "which way?", choices=["left", "right"])

    assert main(["-C", str(root), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["run"]["state"] == "waiting_for_human" and status["run"]["run_id"] == run.id
    assert [q["text"] for q in status["questions"]] == ["which way?"]
    assert main(["-C", str(root), "log", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["name"], r["status"]) for r in rows] == [
        ("llm", "m", "ended"), ("tool", "t", "ended"),
    ]  # fmt: skip
    assert main(["-C", str(root), "runs", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["state"], listed["tokens"]) == ("waiting_for_human", 12)
    assert main(["-C", str(root), "answer", "q1", "--choice", "2"]) == 0
    assert main(["-C", str(root), "journal", "verify"]) == 0
    assert "chain valid" in capsys.readouterr().out
    update = ProjectData(root).refresh()
    assert len(update.steps) == 2 and update.questions == []  # answered: none pending
    assert update.run_status is not None and "waiting for a human" in update.run_status
    assert not (root / ".harness" / "journal.db").exists()
    assert not (root / ".harness" / "questions.db").exists()


def test_a_database_holding_another_project_s_journal_is_refused(
    tmp_path: Path, pg_url: str
) -> None:
    first = Location(tmp_path / "a" / ".harness", url=pg_url, project=str(tmp_path / "a"))
    with Journal.open(first) as journal:
        journal.start_run()
    other = Location(tmp_path / "b" / ".harness", url=pg_url, project=str(tmp_path / "b"))
    with pytest.raises(JournalError, match="belongs to the project") as refused:
        Journal.open(other)
    assert "search_path" in str(refused.value)


def test_state_save_refuses_a_journal_it_cannot_carry(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p")
    (root / ".harness").mkdir()
    monkeypatch.setenv("HARNESS_JOURNAL_URL", pg_url)
    assert main(["-C", str(root), "state", "save", str(tmp_path / "s.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and "carry no journal" in err
    assert not (tmp_path / "s.tar.gz").exists()
