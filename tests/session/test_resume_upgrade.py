"""A session journaled by an older harness, killed, and resumed by today's: a step today's
code adds (git/"feature list", the list a session starts from) is not in its record; the
wake computes what it needs without recording it and the replay goes on matching the
recorded steps: no model call is paid twice, the run ends as one never killed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.journal import Journal
from tests.session.support import (
    commit_count,
    harness_proc,
    harness_run,
    init,
    log_json,
    make_project,
    older_harness,
    passing,
    progress_sessions,
    session_commits,
)


@pytest.mark.slow  # the killed run is a child process
def test_a_session_recorded_without_a_newer_step_resumes_paying_nothing_twice(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "p", count=2)
    init(root)
    with older_harness():
        killed = harness_proc(root, "run", crash_in="tool:mark_passing")
    assert killed.returncode == -9, killed.stderr
    old = [(r["kind"], r["name"]) for r in log_json(root)]
    assert ("git", "feature list") not in old and old.count(("llm", "scripted/script.json")) == 3

    resumed = harness_run(root, "run")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "divergence" not in resumed.stderr

    with Journal.open_readonly(root / ".harness") as journal:
        run_id = journal.latest_run()
        rows = journal.steps(run_id, include_superseded=True)
    assert [r for r in rows if r.status != "ended"] == []  # nothing superseded
    # Every model call once: 5 turns a session (write, verify, mark, note, the last word).
    calls = [(r.session, r.attempts) for r in rows if r.kind == "llm"]
    assert calls == [(1, 1)] * 5 + [(2, 1)] * 5, calls
    assert [(r.kind, r.name, r.attempts) for r in rows if r.attempts > 1] == [
        ("tool", "mark_passing", 2)
    ]
    # Session 1 goes on without the step; session 2, today's own, records it.
    assert [r.session for r in rows if (r.kind, r.name) == ("git", "feature list")] == [2]
    # The outcome of a run never killed.
    assert passing(root) == ["F001", "F002"]
    assert session_commits(root) == {f"{run_id}/1": 1, f"{run_id}/2": 1}
    assert commit_count(root) == 3
    assert progress_sessions(root) == {0: 1, 1: 1, 2: 1}
