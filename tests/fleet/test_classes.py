"""Resource classes are queues with maxima: a run granted more than its class gives moves
to the smallest configured class that gives it, at its next step boundary (told to the
agent in the tool's answer, to the operator in the worker's log and the run's detail);
where no class gives it, the request is refused and nothing is granted. Real workers of
two classes on the embedded fleet (SQLite, DBOS on SQLite)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from fleet.classes import ClassTable
from fleet.db import FleetDb
from fleet.place import fleet_place
from harness.journal.protocol import open_reader
from tests.fleet.support import Fleet, all_in, scripted_project
from tests.session.support import call, good_turns, turn

pytestmark = pytest.mark.slow


def _asking(root: Path, memory_mb: int) -> Path:
    turns = [
        turn(call("request_resources", memory_mb=memory_mb, reason="the suite needs it")),
        *good_turns(1),
    ]
    return scripted_project(root, count=1, latency_s=0.0, sessions={1: turns})


def _wait_declared(fleet: Fleet, klass: str, timeout_s: float = 120) -> None:
    """Until class ``klass`` is in the fleet's classes table (its worker declared it)."""
    deadline = time.monotonic() + timeout_s
    db = FleetDb(fleet_place(fleet.url, environ=fleet.env))
    try:
        table = ClassTable(db)
        while klass not in table.all():
            assert time.monotonic() < deadline, f"class {klass!r} never declared"
            time.sleep(0.2)
    finally:
        db.close()


def _answers(fleet: Fleet, run_id: str) -> list[Any]:
    """What request_resources answered the agent, in the run's journal."""

    reader = open_reader(fleet.journal_of(run_id))
    try:
        found = []
        for step in reader.steps(include_superseded=True):
            if step.kind == "tool" and step.name == "request_resources":
                detail = reader.step_detail(step.run_id, step.session, step.seq)
                assert detail is not None
                found.append(detail.output)
        return found
    finally:
        reader.close()


def test_a_run_granted_more_than_its_class_moves_to_a_bigger_one(
    fleet: Fleet, tmp_path: Path
) -> None:
    grow = _asking(tmp_path / "grow", 3072)  # default gives 2048: big (4096) does
    huge = _asking(tmp_path / "huge", 6000)  # within harness.toml's maxima; no class gives it
    fleet.submit(grow, "grow")
    fleet.submit(huge, "huge")
    # The fleet's classes are those its workers declared: the big one first (under load a
    # worker starting second declared its class after grow had asked, and grow was refused).
    big = fleet.start_worker("w-big", runs=2, options=["--class", "big", "--max-memory-mb", "4096"])
    _wait_declared(fleet, "big")
    small = fleet.start_worker("w-small", runs=2, options=["--max-memory-mb", "2048"])
    rows = {row["id"]: row for row in fleet.wait(all_in(("complete", "failed", "budget")))}
    assert rows["grow"]["state"] == "complete" and rows["grow"]["class"] == "big"
    assert rows["grow"]["drive"] >= 2  # its next drive ran on the big class's queue
    assert rows["huge"]["state"] == "complete" and rows["huge"]["class"] == "default"

    (moved,) = _answers(fleet, "grow")
    said = json.dumps(moved)
    assert "moves to class 'big' (memory_mb <= 4096)" in said
    assert "'default' (memory_mb <= 2048) does not give it" in said
    (refused,) = _answers(fleet, "huge")
    said = json.dumps(refused)
    assert "POLICY: no resource class of this fleet gives" in said and "memory_mb=6000" in said
    assert "nothing was granted" in said

    for proc in (small, big):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    small_log = (fleet.home / "w-small.log").read_text()
    assert "run grow moves from class 'default' to 'big' (memory_mb <= 4096)" in small_log
    big_log = (fleet.home / "w-big.log").read_text()
    assert "class 'big' (memory_mb <= 4096)" in big_log
