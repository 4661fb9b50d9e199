"""`harness fleet` on the embedded default (SQLite for the fleet and DBOS, no server): bad
input refused with what to fix and exit 2, submit idempotent by id, a worker that drives
a run to complete, publishes its branch, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.fleet.support import Fleet, all_in, branch_history, scripted_project


@pytest.mark.slow  # 1.1 CPU-s (bench/suite_census.py)
def test_bad_input_is_refused_saying_what_to_do(fleet: Fleet, tmp_path: Path) -> None:
    bad_url = fleet.cli("status", "--url", "mysql://x/y", check=False)
    assert bad_url.returncode == 2 and "not a PostgreSQL URL" in bad_url.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    not_git = fleet.cli("submit", str(plain), check=False)
    assert not_git.returncode == 2 and "not a git repository" in not_git.stderr
    bad_id = fleet.cli("submit", str(plain), "--id", "../x", check=False)
    assert bad_id.returncode == 2 and "a run id is" in bad_id.stderr
    missing = fleet.cli("answer", "nope/q1", "yes", check=False)
    assert missing.returncode == 2 and "no such question" in missing.stderr
    assert fleet.status() == []


@pytest.mark.slow
def test_embedded_fleet_drives_a_run_to_complete(fleet: Fleet, tmp_path: Path) -> None:
    source = scripted_project(tmp_path / "source", latency_s=0.0)
    assert fleet.cli("submit", str(source), "--id", "one").stdout.strip() == "one"
    assert fleet.cli("submit", str(source), "--id", "one").stdout.strip() == "one"
    other = tmp_path / "other"
    scripted_project(other, latency_s=0.0)
    clash = fleet.cli("submit", str(other), "--id", "one", check=False)
    assert clash.returncode == 2 and "exists for another project" in clash.stderr
    (row,) = fleet.status()
    assert row["state"] == "queued" and row["project"] == str(source)
    worker = fleet.start_worker("w1", runs=2)
    (row,) = fleet.wait(all_in(("complete", "failed", "budget")))
    assert row["state"] == "complete" and row["features"] == {"passing": 2, "total": 2}
    assert row["worker"] is None and row["version"].startswith("journal-")
    subjects = [subject for subject, _ in branch_history(source, "one")]
    assert subjects[-2:] == ["session 1: F001 passing", "session 2: F002 passing"]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    text = fleet.cli("status").stdout
    assert "worker w1: stopped" in text and "one  complete" in text
    lines = fleet.cli("status", "--json").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["one"]
