"""A PostgreSQL fleet's worker holds a bounded number of connections whatever its runs
(``harness.journal.postgres.pool``): each running run held two of its own (its journal,
its question queue), so 2,000 runs needed max_connections > 4,000.

A real `harness fleet worker --runs 30 --connections 4` on a real PostgreSQL drives 30
runs of a scripted project whose model answers after a few seconds, all at once. Sampled
throughout, the database's connections of each kind never exceed that kind's ceiling in
the worker, a constant whatever its runs (:data:`CEILINGS`: the fleet's tables, DBOS, its
client, the runs' pool of 4 and its lock connection), and their sum is below one per run;
every run completes, each model call paid once (journal attempts), the journals verify.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fleet.app import CLIENT_POOL, Client
from fleet.db import TABLES_OVERFLOW, TABLES_POOL, FleetDb
from fleet.place import fleet_place
from fleet.project import head_of
from fleet.submit import submit
from fleet.worker import DBOS_POOL
from tests.fleet.support import Fleet, all_in, llm_attempts, new_database, scripted_project

pytestmark = pytest.mark.slow

RUNS = 30
"""The fewest runs whose count is above the ceilings' sum (29): a connection per run would
break the sum and, far sooner, its kind's ceiling (24 runs at once against 5). Runs past
that repeated the same case: 50 were 20 more runs of the same project (~0.8 CPU-s each)."""
CONNECTIONS = 4
LOCKS = 1  # the pool's lock connection: every run's advisory lock
OWN = 1  # this test's FleetDb: one thread asks, one connection
LISTENER = 1  # a DBOS system database's LISTEN connection, taken out of its pool (detach)
CEILINGS = {  # by application name: no engine of the worker opens more than its pool's size
    "": TABLES_POOL + TABLES_OVERFLOW + OWN,  # the worker's fleet tables, and this test's
    "dbos_transact": DBOS_POOL + LISTENER,  # DBOS's executor in the worker
    "dbos_transact_client": CLIENT_POOL + LISTENER,  # the worker's Client (recovery)
    "harness fleet worker w1": CONNECTIONS + LOCKS,  # every run's journal and questions
}


def _connections(watch: Any) -> dict[str, int]:
    """Client connections to the fleet's database by application name (not ``watch``,
    this test's one connection for every sample: a new one each 0.1 s was ~400 server
    processes started and ended during the test)."""
    rows = watch.execute(
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
    import psycopg

    watch = psycopg.connect(url, autocommit=True)
    try:
        client = Client(place)  # every run queued before the worker starts: this test's
        head = head_of(str(source))  # client is gone before the first sample
        try:
            for k in range(RUNS):
                submit(db, lambda: client, f"p{k:02d}", str(source), base=head)
        finally:
            client.close()
        deadline = time.monotonic() + 900  # liveness bound only
        while sum(_connections(watch).values()) > OWN:  # its backends exit after it closed
            assert time.monotonic() < deadline, _connections(watch)
            time.sleep(0.05)
        bound = sum(CEILINGS.values())
        assert bound < RUNS  # else this test would not tell one per run apart
        worker = fleet.start_worker("w1", runs=RUNS, options=("--connections", str(CONNECTIONS)))
        most_at_once = peak = 0
        seen: dict[str, int] = {}
        while True:
            rows = db.all_runs()
            running = sum(r.state == "running" for r in rows)
            most_at_once = max(most_at_once, running)
            now = _connections(watch)
            if sum(now.values()) > peak:
                peak, seen = sum(now.values()), now
            over = {k: n for k, n in now.items() if n > CEILINGS.get(k, 0)}
            assert not over, f"{over} over {CEILINGS} with {running} runs: {now}"
            assert peak <= bound, f"{peak} connections with {running} runs: {seen}"
            if all(r.state in ("complete", "failed", "budget") for r in rows):
                break
            assert worker.poll() is None and time.monotonic() < deadline, "runs unfinished"
            time.sleep(0.1)
        print(f"{peak} connections at most with {RUNS} runs (bound {bound}): {seen}")
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
        watch.close()
        db.close()
        fleet.stop_all()
