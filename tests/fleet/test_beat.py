"""A worker's beat loop costs the same whatever the number of runs it drives: it asks the
fleet's database which of its runs were cancelled in one query (it asked once per run,
each second: with ~400 runs per worker on a loaded machine its beat stalled past the
10 s after which its peer declared it lost, and each took the other's runs over)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.db import FleetDb, RunRow
from fleet.drive import WorkerState
from fleet.place import fleet_place
from fleet.worker import _watch_cancels

RUNS = 600  # over the 500 of one IN list


def test_the_cancel_watch_is_one_query_for_all_runs(tmp_path: Path) -> None:
    place = fleet_place(environ={"HARNESS_FLEET_HOME": str(tmp_path / "fleet")})
    db = FleetDb(place)
    try:
        for k in range(RUNS):
            db.add_run(RunRow(f"r{k:03d}", "/src", state="running"))
        db.update_run("r007", state="cancelled")
        db.update_run("r555", state="cancelled")
        state = WorkerState(worker_id="w", place=place, db=db, environ={})
        state.active.update({f"r{k:03d}": 0.0 for k in range(RUNS)})
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        db.sa.event.listen(db.engine, "before_cursor_execute", count)
        _watch_cancels(db, state)
        db.sa.event.remove(db.engine, "before_cursor_execute", count)
    finally:
        db.close()
    assert state.cancelled == {"r007", "r555"}
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 2, f"{len(selects)} queries for {RUNS} runs"
