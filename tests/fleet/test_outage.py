"""PostgreSQL restarted mid-run (stopped hard, started again): the fleet's runs, whose
journals and tables are in it, wait for it and go on; none is marked failed, every
answered model call is paid once, the commits are an uninterrupted run's and each journal
verifies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.support import (
    Fleet,
    all_in,
    branch_history,
    llm_attempts,
    new_database,
    scripted_project,
)
from tests.stores import raw

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(own_pg_server: Any, tmp_path: Path, state_home: Path) -> Iterator[Fleet]:
    made = Fleet(
        new_database(own_pg_server), tmp_path / "fleet", {"HARNESS_STATE_HOME": str(state_home)}
    )
    made.home.mkdir()
    yield made
    made.stop_all()


def _steps(fleet: Fleet, run_id: str) -> int:
    try:
        return int(raw(fleet.journal_of(run_id), "SELECT count(*) FROM steps")[0][0])
    except Exception:  # its journal is not made yet
        return 0


def _wait_for(check: Any, what: str, deadline_s: float = 600) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, what
        time.sleep(0.2)


def test_runs_wait_for_a_restarted_database_and_go_on(
    fleet: Fleet, own_pg_server: Any, tmp_path: Path
) -> None:
    source = scripted_project(tmp_path / "source", latency_s=1.0)
    runs = ["o0", "o1"]
    fleet.submit(source, *runs)
    fleet.start_worker("wA", runs=4, lost_after=30)
    log = fleet.home / "wA.log"
    _wait_for(lambda: all(_steps(fleet, r) >= 8 for r in runs), "the runs never got going")
    own_pg_server.stop("immediate")  # mid-session: a model answer is on its way
    _wait_for(lambda: "waiting for the database" in log.read_text(), log.read_text()[-3000:])
    assert fleet.workers["wA"].poll() is None  # the worker waits, it does not die
    own_pg_server.start()
    rows = fleet.wait(all_in(("complete", "failed", "budget")))
    text = log.read_text()
    assert "the database is back" in text, text[-3000:]
    reference = None
    for row in rows:
        assert row["state"] == "complete", (row, text[-3000:])
        assert row["features"] == {"passing": 2, "total": 2}, row
        history = branch_history(source, row["id"])
        reference = reference or history
        assert history == reference
        attempts = llm_attempts(fleet.journal_of(row["id"]))
        # the answer in flight when the server went away is asked again; no answered one
        assert sum(n > 1 for n in attempts) <= 1, attempts
        fleet.verify(row["id"])
    assert reference is not None and [s for s, _ in reference][-1] == "session 2: F002 passing"
