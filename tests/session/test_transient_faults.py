"""A transient fault that is not the model's verdict, during a session, followed by a
resume: the session's work is committed (issue 23).

Before, a GitError or a MemoryError in the writeback was recorded and replayed: the run
ended failed, its session was closed without a writeback, and the next run took that
session's files for the user's and never committed them; HEAD said the feature passes
while a clone failed its check. Now the run stays open with its session, the failed step
runs again on resume (the journal's rule), and the session commits its work once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git
from tests.session.support import (
    call,
    good_turns,
    harness_run,
    init,
    make_project,
    passing,
    session_commits,
    turn,
)

REPO = Path(__file__).resolve().parents[2]


def _clone_passes(root: Path, tmp_path: Path) -> bool:
    """A fresh clone of HEAD holds F001's code: its check passes there."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    return (clone / "done_a.txt").is_file()


def _resumed(root: Path, tmp_path: Path) -> None:
    done = harness_run(root, "run")
    assert done.returncode == 0, done.stderr
    assert passing(root) == ["F001"]
    assert sorted(session_commits(root).values()) == [1]
    assert "done_a.txt" in git(root, "show", "--name-only", "--format=", "HEAD")
    assert _clone_passes(root, tmp_path)
    assert git(root, "status", "--porcelain") == ""


def test_a_git_failure_in_the_writeback_is_retried_and_the_work_committed(
    tmp_path: Path,
) -> None:
    """The agent's last command (local runner) breaks git's index; the writeback's `git
    status` fails. Once the index is back, the resumed run commits the session's work."""
    saved = tmp_path / "index.saved"
    breaks = f"cp .git/index {saved} && printf garbage > .git/index"
    turns = good_turns(1)
    turns.insert(3, turn(call("run", command=breaks)))  # after mark_passing
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    report = tmp_path / "report.json"
    failed = harness_run(root, "run", "--report", str(report))
    assert failed.returncode == 1, failed.stderr
    data = json.loads(report.read_text())
    assert data["outcome"] == "failed" and data["resumable"] is True, data
    assert "index file" in data["detail"]
    assert session_commits(root) == {}
    saved.replace(root / ".git" / "index")  # the fault is gone
    _resumed(root, tmp_path)


@pytest.mark.slow  # a child process, where the MemoryError is raised
def test_a_memory_error_in_the_writeback_is_retried_and_the_work_committed(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    report = tmp_path / "report.json"
    point = "raise:MemoryError:session.writeback:plan_commit"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_CRASH")}
    helper = [sys.executable, "-m", "tests.session.stopped_at", point, str(tmp_path / "marker")]
    failed = subprocess.run(
        [*helper, "--", "-C", str(root), "run", "--report", str(report)],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert failed.returncode == 1, failed.stderr
    data = json.loads(report.read_text())
    assert data["outcome"] == "failed" and data["resumable"] is True, data
    assert "internal error: MemoryError" in data["detail"]
    assert "Traceback: " in data["detail"]
    assert session_commits(root) == {}
    _resumed(root, tmp_path)
