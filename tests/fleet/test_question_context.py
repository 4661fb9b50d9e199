"""A parked run's question reaches the fleet's table with what the person answering needs:
the agent's context, the escalation matrix's scores and the reason it asked; a database
made before those columns existed gets them (SQLite and a real PostgreSQL); `harness fleet
questions` shows them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from escalation.questions import QuestionStore, Scores
from fleet.db import FleetDb, QuestionRow
from fleet.drive import _park
from fleet.place import fleet_place
from harness.cli import main
from harness.journal.location import as_location
from tests.fleet.support import new_database

# The questions table as it shipped before context, scores and reason (fleet/db.py then).
OLD_TABLE = """CREATE TABLE harness_fleet_questions (
    run TEXT NOT NULL, qid TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    choices TEXT NOT NULL, asked_at TEXT NOT NULL, status TEXT NOT NULL, answer TEXT,
    choice INTEGER, answered_at FLOAT, PRIMARY KEY (run, qid))"""
OLD_ROW = """INSERT INTO harness_fleet_questions (run, qid, kind, text, choices, asked_at, status)
    VALUES ('old', 'q1', 'question', 'Asked before the upgrade?', '[]', '2026-01-01', 'pending')"""
SCORES = {"uncertainty": 0.8, "novelty": 0.5, "benefit": 0.6, "total": 0.72, "threshold": 0.6}


@pytest.fixture(params=["sqlite", "postgresql"])
def place(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    state_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    monkeypatch.setenv("HARNESS_FLEET_HOME", str(tmp_path / "fleet"))
    monkeypatch.delenv("HARNESS_FLEET_URL", raising=False)
    url = None
    if request.param == "postgresql":
        url = new_database(request.getfixturevalue("pg_server"))
        monkeypatch.setenv("HARNESS_FLEET_URL", url)
    made = fleet_place(url)
    made.home.mkdir(parents=True, exist_ok=True)
    return made


def test_an_older_fleet_database_gets_the_columns_and_keeps_its_rows(place: Any) -> None:
    import sqlalchemy as sa  # not at module level (TID253: heavy)

    engine = sa.create_engine(place.tables_url())
    with engine.begin() as conn:
        conn.execute(sa.text(OLD_TABLE))
        conn.execute(sa.text(OLD_ROW))
    engine.dispose()
    db = FleetDb(place)
    try:
        (old,) = db.questions_of("old")
        assert (old.text, old.context, old.scores, old.reason) == (
            "Asked before the upgrade?",
            "",
            None,
            "",
        )
        new = QuestionRow(
            "new", "q1", "question", "Which database?", ["sqlite", "pg"], "2026-01-02",
            context="the tests need a server", scores=SCORES, reason="score 0.72 > 0.6",
        )  # fmt: skip
        db.put_questions([new])
        FleetDb(place).close()  # opened again: nothing to add, nothing lost
        (new,) = db.questions_of("new")
        assert (new.context, new.scores, new.reason) == (
            "the tests need a server",
            SCORES,
            "score 0.72 > 0.6",
        )
        assert [q.qid for q in db.questions_of("old")] == ["q1"]
    finally:
        db.close()


def test_a_parked_runs_question_carries_context_scores_and_reason(
    tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_FLEET_HOME", str(tmp_path / "fleet"))
    monkeypatch.delenv("HARNESS_FLEET_URL", raising=False)
    project = tmp_path / "p"
    (project / ".harness").mkdir(parents=True)
    where = as_location(project / ".harness")
    scores = Scores(uncertainty=0.8, novelty=0.5, benefit=0.6, total=0.72, threshold=0.6)
    with QuestionStore(where, project_root=project) as store:
        store.ask(
            "question", "Which database?", "the tests need a server", ["sqlite", "pg"], scores,
            reason="score 0.72 above threshold 0.6",
        )  # fmt: skip
    db = FleetDb(fleet_place())
    try:
        _park(db, "r1", project, where)
        (row,) = db.questions_of("r1")
        assert (row.text, row.context, row.reason) == (
            "Which database?",
            "the tests need a server",
            "score 0.72 above threshold 0.6",
        )
        assert row.scores is not None and row.scores["total"] == 0.72
        assert row.scores["threshold"] == 0.6

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["fleet", "questions"]) == 0
        shown = out.getvalue()
        assert "r1/q1 (question): Which database?" in shown
        assert "context: the tests need a server" in shown
        assert "scores: uncertainty 0.80  novelty 0.50  benefit 0.60  total 0.72" in shown
        assert "(asks above 0.60)" in shown
        assert "why asked: score 0.72 above threshold 0.6" in shown
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["fleet", "questions", "--json"]) == 0
        listed = json.loads(out.getvalue())
        assert listed["context"] == "the tests need a server"
        assert listed["scores"]["total"] == 0.72
        assert listed["reason"] == "score 0.72 above threshold 0.6"
    finally:
        db.close()
