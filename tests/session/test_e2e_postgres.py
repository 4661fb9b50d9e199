"""`harness run` with its journal in PostgreSQL (a real server, tests/pg.py): killed mid-run
it resumes paying for no model call twice; a server that goes away mid-run parks the run as
waiting, saying so, and the next `harness run` goes on once it is back."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from harness.journal import Location
from harness.journal.protocol import open_reader
from tests.pg import PgServer
from tests.session.support import (
    call,
    fid,
    good_turns,
    harness,
    harness_out,
    harness_proc,
    init,
    log_json,
    make_project,
    passing,
    turn,
)


def _journal_lives_in_postgres(root: Path, url: str) -> None:
    assert not (root / ".harness" / "journal.db").exists()  # nothing of it in SQLite
    with open_reader(Location(root / ".harness", url=url, project=str(root))) as reader:
        assert reader.runs()


@pytest.mark.slow
def test_a_run_killed_mid_model_call_resumes_paying_nothing_twice(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_JOURNAL_URL", pg_url)
    root = make_project(tmp_path / "p", count=2)
    init(root)
    crashed = harness_proc(root, "run", crash_in="llm:*#2")
    assert crashed.returncode == -9, crashed.stderr
    assert harness(root, "run") == 0
    assert passing(root) == ["F001", "F002"]
    rows = log_json(root)
    model_calls = [(r["session"], r["seq"], r["attempts"]) for r in rows if r["kind"] == "llm"]
    rerun = [(r["kind"], r["session"], r["attempts"]) for r in rows if r["attempts"] > 1]
    assert rerun == [("llm", 1, 2)]  # the one in flight at the kill; every other paid once
    assert len(model_calls) >= 4 and all(r["status"] == "ended" for r in rows)
    _journal_lives_in_postgres(root, pg_url)
    code, out = harness_out(root, "journal", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"]


@pytest.mark.slow
def test_the_database_gone_mid_run_parks_it_and_the_next_run_resumes(
    tmp_path: Path, own_pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = own_pg_server
    url = server.new_schema()
    monkeypatch.setenv("HARNESS_JOURNAL_URL", url)
    stop = [str(server.bindir / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"]
    if server.as_postgres:
        runuser = shutil.which("runuser")
        assert runuser is not None
        stop = [runuser, "-u", "postgres", "--", *stop]
    # The agent's command stops the server (once): the end of that very step cannot be
    # written, so the step stays in flight and the run parks on the database.
    once = f"test -e stopped || {{ touch stopped; {shlex.join(stop)}; }}"
    first = [turn(call("run", command=once)), *good_turns(1)]
    root = make_project(tmp_path / "p", count=2, sessions={1: first})
    init(root)

    report = tmp_path / "report.json"
    parked = harness_proc(root, "run", "--report", str(report))
    assert parked.returncode == 4, parked.stderr + parked.stdout
    written = json.loads(report.read_text())
    assert (written["outcome"], written["resumable"]) == ("waiting", True)
    assert "unreachable" in written["detail"] and "since" in written["detail"]
    said = parked.stdout + parked.stderr
    assert "unreachable" in said and "waiting" in said and "harness run" in said
    assert "password" not in said.lower()
    assert (root / "stopped").exists()

    server.start()  # the database is back
    assert harness(root, "run", "--report", str(report)) == 0
    assert json.loads(report.read_text())["state"] == "finished"
    assert passing(root) == ["F001", "F002"]
    rows = log_json(root)
    rerun = [(r["kind"], r["name"], r["attempts"]) for r in rows if r["attempts"] > 1]
    assert rerun == [("tool", "run", 2)]  # the step in flight ran again; no model call did
    assert all(r["status"] == "ended" for r in rows)
    assert fid(1) in passing(root)
    _journal_lives_in_postgres(root, url)
