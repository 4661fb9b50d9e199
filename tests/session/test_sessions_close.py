"""Every session ends with an outcome: a failed run closes its session as failed; runs a
dead process left behind are closed as interrupted by the next run; status says which."""

from __future__ import annotations

import json
from pathlib import Path

from harness.journal import Journal
from tests.session.support import harness, harness_out, harness_proc, init, make_project


def _sessions(root: Path) -> list[tuple[str, int, str, str | None]]:

    with Journal.open_readonly(root / ".harness") as journal:
        return [(s.run_id, s.number, s.status, s.outcome) for s in journal.sessions()]


def test_a_failed_run_leaves_no_session_running(tmp_path: Path) -> None:
    """Whether the failed run is finished (its sessions closed "failed") or kept open for
    `harness run` after the fix, nothing says "running" once its process is gone."""
    from tui.journal_view import JournalFollower
    from tui.model import Update

    fatal = [{"text": "x", "fault": "auth", "times": 50}]
    root = make_project(tmp_path / "p", count=1, sessions={1: fatal})
    init(root)
    code, _ = harness_out(root, "run", "--report", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["outcome"] != "complete" and code in (1, 2, 4)
    run_sessions = [s for s in _sessions(root) if s[0] == report["run_id"]]
    assert [s[1] for s in run_sessions] == [1]
    if run_sessions[0][2] == "closed":
        assert run_sessions[0][3] == "failed"
    follower = JournalFollower(root / ".harness")
    update = Update()
    follower.read(update)
    follower.close()
    shown = {(s.run, s.number): s.outcome for s in update.sessions or []}
    assert shown[(report["run_id"], 1)] != "running"
    code, out = harness_out(root, "status", "--json")
    assert code == 0
    assert json.loads(out)["run"]["state"] != "running"


def test_a_killed_run_shows_interrupted_and_an_abandoned_one_is_closed(tmp_path: Path) -> None:

    root = make_project(tmp_path / "p", count=1)
    init(root)
    killed = harness_proc(root, "run", crash_at_step=1)
    assert killed.returncode == -9
    code, out = harness_out(root, "status", "--json")
    assert code == 0
    state = json.loads(out)["run"]
    assert state["state"] == "interrupted" and state["resume"] == "harness run"
    assert "interrupted" in harness_out(root, "status")[1]
    # a second unfinished run nobody drives (e.g. state moved from another clone)
    with Journal.open(root / ".harness") as journal:
        newer = journal.start_run("run")
        newer.session(1)
    assert harness(root, "run") == 0
    with Journal.open_readonly(root / ".harness") as journal:
        runs = {r.id: r for r in journal.runs()}
    old = state["run_id"]
    assert runs[old].status == "finished" and runs[old].outcome == "interrupted"
    assert all(s[2] == "closed" for s in _sessions(root)), _sessions(root)
    assert (old, 1, "closed", "interrupted") in _sessions(root)
    assert runs[newer.id].outcome == "complete"


def test_status_shows_a_parked_run_and_its_question(tmp_path: Path) -> None:
    asks = [
        {"tool_calls": [{"name": "ask_human", "arguments": {"question": "Which colour?"}}]},
        {"text": "waiting"},
    ]
    root = make_project(tmp_path / "p", count=1, sessions={1: asks})
    init(root)
    assert harness(root, "run", "--unattended") == 4
    code, out = harness_out(root, "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["run"]["state"] == "waiting_for_human"
    assert [q["text"] for q in status["questions"]] == ["Which colour?"]
    text = harness_out(root, "status")[1]
    assert "parked: waiting for a human" in text and "q1" in text
    # the same park in the --json stream: a question event, then the run's end
    code, out = harness_out(root, "run", "--unattended", "--json", "--quiet")
    assert code == 4
    events = [json.loads(line) for line in out.splitlines()]
    questions = [e for e in events if e["type"] == "question"]
    assert questions and questions[0]["id"] == "q1" and questions[0]["status"] == "parked"
    assert events[-1]["type"] == "run.ended"
    assert events[-1]["report"]["outcome"] == "waiting_for_human"
