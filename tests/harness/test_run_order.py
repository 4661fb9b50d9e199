"""Runs and sessions are ordered as the journal recorded them, never by the wall clock:
after the clock goes back (NTP, a VM restored, a laptop's dead battery), the newest run is
still the one that started last (issue 23)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.session.support import harness, harness_out, init, make_project

DAY = 86_400.0


def _clock_was_ahead(root: Path) -> None:
    """Every time recorded so far is a day later than the clock now says (the clock was
    set back). Runs' and sessions' times are not part of the HMAC chain."""
    with sqlite3.connect(root / ".harness" / "journal.db") as conn:
        conn.execute("UPDATE runs SET created_at = created_at + ?, finished_at = finished_at + ?",
                     (DAY, DAY))  # fmt: skip
        conn.execute("UPDATE sessions SET started_at = started_at + ?, ended_at = ended_at + ?",
                     (DAY, DAY))  # fmt: skip


def test_status_runs_and_log_name_the_newest_run_after_the_clock_went_back(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "p", count=2)
    init(root)
    assert harness(root, "run", "--max-sessions", "1") == 3  # F001 done, budget of 1 session
    _clock_was_ahead(root)
    assert harness(root, "run", "--max-sessions", "1") == 0  # F002: a new run
    code, out = harness_out(root, "runs", "--json")
    assert code == 0
    runs = json.loads(out)
    assert [r["kind"] for r in runs] == ["init", "run", "run"]
    newest = runs[-1]["id"]
    assert runs[-1]["outcome"] == "complete" and runs[1]["outcome"] == "budget_exhausted"
    code, out = harness_out(root, "status", "--json")
    assert code == 0
    assert json.loads(out)["run"]["run_id"] == newest
    code, out = harness_out(root, "log", "--json")
    assert code == 0
    assert {json.loads(line)["run_id"] for line in out.splitlines()} == {newest}
