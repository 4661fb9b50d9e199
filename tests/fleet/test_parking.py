"""A parked run on a real PostgreSQL: its drive ends (no queue slot held), its question is
listed from any process, an answer from a third process (this test's `harness fleet
answer`) enqueues the next drive once, and whichever worker is free finishes the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escalation.questions import QuestionStore
from tests.fleet.support import Fleet, all_in, scripted_project
from tests.session.support import call, good_turns, turn

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(pg_fleet: Fleet) -> Fleet:
    """This module's fleet is on PostgreSQL."""
    return pg_fleet


def test_a_parked_run_answered_from_another_process_goes_on(fleet: Fleet, tmp_path: Path) -> None:
    asks = [turn(call("ask_human", question="Which colour?")), *good_turns(1)]
    source = scripted_project(tmp_path / "source", count=1, sessions={1: asks}, latency_s=0.0)
    fleet.submit(source, "park1")
    fleet.start_worker("wA", runs=2)
    fleet.start_worker("wB", runs=2)
    (row,) = fleet.wait(all_in(("parked", "complete", "failed", "budget")))
    assert row["state"] == "parked" and row["worker"] is None, row
    listed = [json.loads(line) for line in fleet.cli("questions", "--json").stdout.splitlines()]
    assert [(q["id"], q["text"]) for q in listed] == [("park1/q1", "Which colour?")]
    wrong = fleet.cli("approve", "park1/q1", check=False)
    assert wrong.returncode == 2 and "is a question: answer it" in wrong.stderr
    said = fleet.cli("answer", "park1/q1", "blue").stdout
    assert "the run goes on (drive 2)" in said
    again = fleet.cli("answer", "park1/q1", "red")  # twice: settled once, enqueued once
    assert "settled already" in again.stderr
    (row,) = fleet.wait(all_in(("complete", "failed", "budget")))
    assert row["state"] == "complete" and row["features"] == {"passing": 1, "total": 1}, row
    assert row["drive"] == 2, row
    assert fleet.cli("questions", "--json").stdout == ""

    project = fleet.project_of("park1")
    with QuestionStore(fleet.journal_of("park1"), project_root=project) as store:
        (question,) = store.all()
    assert question.status == "answered" and question.answer == "blue"
