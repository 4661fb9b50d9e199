"""A PostgreSQL fleet's worker holds a bounded number of connections whatever its runs
(``harness.journal.postgres.pool``): each running run held two of its own (its journal,
its question queue), so 2,000 runs needed max_connections > 4,000.

A real `harness fleet worker --runs 50 --connections 4` on a real PostgreSQL drives 50
runs of a scripted project whose model answers after a few seconds, all at once. Sampled
throughout, the database's connections never exceed the idle worker's (the fleet's tables,
DBOS) plus DBOS's pool growing under load, the 4 and the lock connection; every run
completes, each model call paid once (journal attempts), the journals verify.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fleet.app import Client
from fleet.db import FleetDb
from fleet.place import fleet_place
from fleet.project import head_of
from fleet.submit import submit
from fleet.worker import DBOS_POOL
from tests.fleet.support import Fleet, all_in, llm_attempts, new_database, scripted_project

pytestmark = pytest.mark.slow

RUNS = 50
CONNECTIONS = 4
LOCKS = 1  # the pool's lock connection: every run's advisory lock


def _connections(url: str) -> dict[str, int]:
    """Client connections to the fleet's database by application name (not this one)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' GROUP BY application_name"
        ).fetchall()
    return {str(name): int(n) for name, n in rows}


def test_a_worker_with_many_runs_holds_a_bounded_number_of_connections(
    pg_server: Any, tmp_path: Path
) -> None:
    url = new_database(pg_server)
    state = tmp_path / "state"
    state.mkdir()
    fleet = Fleet(url, tmp_path / "fleet", {"HARNESS_STATE_HOME": str(state)})
    fleet.home.mkdir()
    source = scripted_project(tmp_path / "source", count=1, latency_s=4.0)
    place = fleet_place(environ=fleet.env)
    db = FleetDb(place)
    try:
        worker = fleet.start_worker("w1", runs=RUNS, options=("--connections", str(CONNECTIONS)))
        deadline = time.monotonic() + 900  # liveness bound only
        while not any(w.id == "w1" and w.state == "live" for w in db.all_workers()):
            assert worker.poll() is None and time.monotonic() < deadline, "no worker"
            time.sleep(0.2)
        idle = sum(_connections(url).values())
        bound = idle + DBOS_POOL + CONNECTIONS + LOCKS
        assert bound < idle + RUNS  # else this test would not tell one per run apart
        client = Client(place)
        head = head_of(str(source))
        try:
            for k in range(RUNS):
                submit(db, lambda: client, f"p{k:02d}", str(source), base=head)
        finally:
            client.close()
        most_at_once = peak = 0
        seen: dict[str, int] = {}
        while True:
            rows = db.all_runs()
            running = sum(r.state == "running" for r in rows)
            most_at_once = max(most_at_once, running)
            now = _connections(url)
            if sum(now.values()) > peak:
                peak, seen = sum(now.values()), now
            assert peak <= bound, f"{peak} connections with {running} runs ({idle} idle): {seen}"
            if all(r.state in ("complete", "failed", "budget") for r in rows):
                break
            assert worker.poll() is None and time.monotonic() < deadline, "runs unfinished"
            time.sleep(0.1)
        print(f"{peak} connections at most with {RUNS} runs ({idle} idle, bound {bound}): {seen}")
        assert most_at_once >= RUNS * 0.8  # most of them at once in the one worker
        assert seen.get("harness fleet worker w1", 0) <= CONNECTIONS + LOCKS
        rows = fleet.wait(all_in(("complete",)), deadline_s=60)
        assert len(rows) == RUNS
        assert all(r["features"] == {"passing": 1, "total": 1} for r in rows)
        for k in range(RUNS):
            attempts = llm_attempts(fleet.journal_of(f"p{k:02d}"))
            assert attempts and all(a == 1 for a in attempts)
        for k in (0, RUNS // 2, RUNS - 1):
            fleet.verify(f"p{k:02d}")
    finally:
        db.close()
        fleet.stop_all()
