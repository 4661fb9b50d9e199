"""Workers on a real PostgreSQL: a worker killed mid-run (kill -9 from outside, or by its
own crash switch inside a git commit) leaves no run behind: a live peer takes its drives
over (DBOS recovery), or the worker restarted with the same id recovers its own; every
run finishes with the commits of an uninterrupted run, no model answer paid twice, and a
journal that verifies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fleet.support import (
    Fleet,
    all_in,
    branch_history,
    llm_attempts,
    scripted_project,
)

pytestmark = pytest.mark.slow

RUNS = 6  # three a worker: the lost one's (two or more) queue for the other's slots


@pytest.fixture
def fleet(pg_fleet: Fleet) -> Fleet:
    """This module's fleet is on PostgreSQL."""
    return pg_fleet


def _check_runs(fleet: Fleet, source: Path, rows: list[dict[str, Any]], moved: set[str]) -> None:
    reference: list[tuple[str, dict[str, str]]] | None = None
    llm_counts = set()
    for row in rows:
        assert row["state"] == "complete", (row["id"], row["state"], row["detail"])
        assert row["features"] == {"passing": 2, "total": 2}, row
        history = branch_history(source, row["id"])
        reference = reference or history
        assert history == reference, (row["id"], history, reference)
        attempts = llm_attempts(fleet.journal_of(row["id"]))
        llm_counts.add(len(attempts))
        repeated = [a for a in attempts if a > 1]
        # A model request in flight when its worker died is sent again (possibly billed,
        # never answered); every answered one replays: at most one repeat per moved run.
        assert len(repeated) <= (1 if row["id"] in moved else 0), (row["id"], attempts)
        fleet.verify(row["id"])
    assert reference is not None and [s for s, _ in reference][-2:] == [
        "session 1: F001 passing",
        "session 2: F002 passing",
    ]
    assert len(llm_counts) == 1, llm_counts  # the same model steps in every run


def test_a_killed_worker_s_runs_finish_on_the_other(fleet: Fleet, tmp_path: Path) -> None:
    source = scripted_project(tmp_path / "source", latency_s=1.0)  # runs long enough to kill
    ids = [f"run{k:02d}" for k in range(RUNS)]
    assert fleet.cli("submit", str(source), "--id", "run00").stdout.strip() == "run00"
    fleet.submit(source, *ids[1:])  # as the command does, in this process
    again = fleet.cli("submit", str(source), "--id", "run00").stdout.strip()
    assert again == "run00"  # idempotent by id
    fleet.start_worker("wA", runs=RUNS // 2)  # neither takes all of them at once: wA's
    fleet.start_worker("wB", runs=RUNS // 2)  # runs wait for a free slot of wB's
    rows = fleet.wait(lambda rows: sum(r["worker"] == "wA" for r in rows) >= 2)
    on_a = {r["id"] for r in rows if r["worker"] == "wA"}
    fleet.kill("wA")
    rows = fleet.wait(all_in(("complete", "failed", "budget")))
    assert len(rows) == RUNS
    log = (fleet.home / "wB.log").read_text()
    assert "took over" in log and "worker wA" in log, log
    _check_runs(fleet, source, rows, on_a)
    workers = fleet.cli("status").stdout
    assert "worker wA: lost" in workers, workers


def test_killed_mid_commit_and_restarted_with_its_id(fleet: Fleet, tmp_path: Path) -> None:
    source = scripted_project(tmp_path / "source")
    crashing = fleet.start_worker("wA", crash_in="git:commit#2")
    fleet.submit(source, "mid0", "mid1", "mid2")
    assert crashing.wait(timeout=900) == -9  # SIGKILL inside its second live git commit
    rows = fleet.status()
    assert any(r["state"] == "running" and r["worker"] == "wA" for r in rows), rows
    fleet.start_worker("wA")  # the same id: DBOS gives it back its own drives at launch
    rows = fleet.wait(all_in(("complete", "failed", "budget")))
    _check_runs(fleet, source, rows, {r["id"] for r in rows})
