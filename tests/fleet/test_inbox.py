"""`fleet.inbox.settle` (the path of `harness fleet answer` and of the TUI's fleet inbox) on
the embedded fleet: real SQLite tables and DBOS's real queue on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.app import Client, app_version
from fleet.db import FleetDb, QuestionRow, RunRow
from fleet.inbox import settle
from fleet.place import FleetError, Place, fleet_place


@pytest.fixture
def fleet(tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HARNESS_FLEET_HOME", str(tmp_path / "fleet"))
    monkeypatch.delenv("HARNESS_FLEET_URL", raising=False)
    place = fleet_place()
    db = FleetDb(place)
    db.add_run(RunRow("r1", "/src/a", state="parked", version=app_version()))
    db.put_questions([QuestionRow("r1", "q1", "question", "Which?", ["x", "y"], "2026-01-01")])
    yield place, db
    db.close()


def _enqueued(place: Place, *ids: str) -> list[str]:
    client = Client(place)
    try:
        return sorted(w.workflow_id for w in client.client.list_workflows(workflow_ids=list(ids)))
    finally:
        client.close()


def test_an_answer_enqueues_the_next_drive_once(fleet: Any) -> None:
    place, db = fleet
    for bad, said in (
        (lambda: settle(place, db, "r1", "q9", "answered", "x"), "r1/q9: no such question"),
        (lambda: settle(place, db, "r1", "q1", "approved"), "is a question: answer it"),
        (lambda: settle(place, db, "r1", "q1", "answered", None, 2), r"has 2 choice\(s\)"),
        (lambda: settle(place, db, "r1", "q1", "answered"), "needs text or --choice"),
    ):
        with pytest.raises(FleetError, match=said):
            bad()
    assert db.questions_of("r1")[0].status == "pending"  # nothing changed by bad input
    done = settle(place, db, "r1", "q1", "answered", None, 1)
    assert (done.drive, done.already, done.said()) == (
        2,
        None,
        "r1/q1 answered; the run goes on (drive 2)",
    )
    assert db.questions_of("r1")[0].answer == "y"
    assert db.run("r1").state == "queued"
    again = settle(place, db, "r1", "q1", "answered", "x")
    assert (again.already, again.drive) == ("answered", None)
    assert _enqueued(place, "r1/drive/2", "r1/drive/3") == ["r1/drive/2"]


def test_a_run_a_worker_parked_again_meanwhile_is_not_marked_queued(
    fleet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A free worker takes drive 2 between the enqueue and the `queued` mark and parks the
    run again on a new question: the mark must not hide that (a run shown queued while
    parked would never be enqueued by the answer to its new question)."""
    place, db = fleet
    enqueue = Client.enqueue

    def enqueue_then_a_fast_worker(self: Client, run_id: str, drive: int, klass: str) -> str:
        said = enqueue(self, run_id, drive, klass)
        db.update_run(run_id, state="running", drive=drive, worker="wA")  # drive.py's writes
        db.put_questions([QuestionRow(run_id, "q2", "question", "And?", [], "2026-01-02")])
        db.update_run(run_id, state="parked", worker=None)
        return said

    monkeypatch.setattr(Client, "enqueue", enqueue_then_a_fast_worker)
    settle(place, db, "r1", "q1", "answered", "x")
    row = db.run("r1")
    assert (row.state, row.drive) == ("parked", 2)
    monkeypatch.setattr(Client, "enqueue", enqueue)
    done = settle(place, db, "r1", "q2", "answered", "z")
    assert done.drive == 3 and db.run("r1").state == "queued"
    assert _enqueued(place, "r1/drive/2", "r1/drive/3") == ["r1/drive/2", "r1/drive/3"]
