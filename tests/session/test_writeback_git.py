"""Repository states refused at wake, git locks, and hostile git config (real git, real CLI).

The CLI runs in this process (`harness_run`) but where a test kills it (a child process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.session.support import (
    call,
    fid,
    good_turns,
    harness_proc,
    harness_run,
    init,
    make_project,
    passing,
    progress_sessions,
    session_commits,
    steps,
    turn,
)

USER = ["-c", "user.name=u", "-c", "user.email=u@x"]


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *USER, *args], capture_output=True, text=True, check=check
    )


def _project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    return root


def _conflict(root: Path) -> None:
    """Two branches that change SPEC.md's first line differently."""
    git(root, "switch", "-q", "-c", "other")
    (root / "SPEC.md").write_text("# other\n")
    git(root, "commit", "-qam", "other")
    git(root, "switch", "-q", "main")
    (root / "SPEC.md").write_text("# main\n")
    git(root, "commit", "-qam", "main side")


def _refused(root: Path, *words: str) -> None:
    result = harness_run(root, "run")
    assert result.returncode == 2, result.stderr
    for word in words:
        assert word in result.stderr
    assert not [s for s in steps(root) if s.kind == "llm" and s.session > 0]  # nothing paid for
    assert session_commits(root) == {}


def test_a_conflicting_rebase_is_refused_before_any_model_call(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _conflict(root)
    git(root, "switch", "-q", "other")
    assert git(root, "rebase", "main", check=False).returncode != 0
    _refused(root, "middle of a rebase", "git rebase --abort")


def test_a_merge_conflict_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _conflict(root)
    assert git(root, "merge", "other", check=False).returncode != 0
    _refused(root, "middle of a merge", "git merge --abort")


def test_a_cherry_pick_and_a_bisect_are_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _conflict(root)
    assert git(root, "cherry-pick", "other", check=False).returncode != 0
    _refused(root, "cherry-pick")
    git(root, "cherry-pick", "--abort")
    git(root, "bisect", "start")
    _refused(root, "bisect", "git bisect reset")


def test_a_detached_head_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    git(root, "switch", "-q", "--detach", "HEAD")
    _refused(root, "detached HEAD", "git switch")


def test_a_stale_index_lock_is_cleared_and_the_session_commits_once(tmp_path: Path) -> None:
    """As a SIGKILLed `git commit` leaves it: the file, no process."""
    root = _project(tmp_path)
    (root / ".git" / "index.lock").write_bytes(b"")
    result = harness_run(root, "run")
    assert result.returncode == 0, result.stderr
    assert "stale git lock" in result.stderr
    assert not (root / ".git" / "index.lock").exists()
    assert list(session_commits(root).values()) == [1]
    assert passing(root) == [fid(1)]


def test_the_stale_lock_note_is_an_event_that_quiet_keeps_off_stderr(tmp_path: Path) -> None:
    """Issue 26: what the run says goes through its events: a notice on the --json stream,
    and nothing on stderr with --quiet (errors only)."""
    root = _project(tmp_path)
    (root / ".git" / "index.lock").write_bytes(b"")
    result = harness_run(root, "run", "--quiet", "--json")
    assert result.returncode == 0, result.stderr
    assert "stale git lock" not in result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    said = [e for e in events if "notice" in e.values() and "stale git lock" in json.dumps(e)]
    assert len(said) == 1, events[:3]


def test_a_lock_left_during_the_session_is_cleared_and_the_commit_retried(tmp_path: Path) -> None:
    """A lock appears during the session (a git of the user's that then dies): the commit
    cannot be made, the verified pass is kept, the session stays open, and the next run
    commits it once; progress.md has one entry for it."""
    lock_it = "sleep 0 && : > .git/refs/heads/main.lock"
    turns = [turn(call("run", command=lock_it)), *good_turns(1)]
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    first = harness_run(root, "run")
    # The lock has no live holder: cleared and the commit retried within the same run.
    assert first.returncode == 0, first.stderr
    assert "stale git lock" in first.stderr
    assert list(session_commits(root).values()) == [1]
    assert progress_sessions(root)[1] == 1


@pytest.mark.slow  # the run waits its 10 s for the live holder before it stops
def test_a_lock_held_by_a_live_process_stops_clearly_and_resumes(tmp_path: Path) -> None:
    root = _project(tmp_path)
    lock = root / ".git" / "index.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(lock)!r}, 'w'); import time; time.sleep(120)"]
    )
    try:
        deadline = time.monotonic() + 60  # the holder has started and opened the lock
        while not lock.exists():
            assert time.monotonic() < deadline, "the lock holder never started"
            time.sleep(0.05)
        result = harness_run(root, "run")
        assert result.returncode == 6, result.stderr
        assert f"pid {holder.pid}" in result.stderr and "held by a live process" in result.stderr
        assert (
            not [s for s in steps(root) if s.kind == "llm" and s.session > 0]
            if (root / ".harness").exists()
            else True
        )
    finally:
        holder.kill()
        holder.wait()
    assert lock.exists()  # never removed while it was held
    second = harness_run(root, "run")
    assert second.returncode == 0, second.stderr
    assert passing(root) == [fid(1)]


@pytest.mark.parametrize("attack", ["hooks", "fsmonitor", "filter"])
def test_agent_planted_git_programs_never_run_on_the_host(tmp_path: Path, attack: str) -> None:
    marker = tmp_path / "MARKER"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    evil.chmod(0o755)
    plant = {
        "hooks": " && ".join(
            f"cp {evil} .git/hooks/{h} && chmod +x .git/hooks/{h}"
            for h in ("pre-commit", "post-commit", "reference-transaction", "post-index-change")
        ),
        "fsmonitor": f"git config core.fsmonitor {evil}",
        "filter": f"git config filter.x.clean {evil} && echo '* filter=x' > .gitattributes",
    }[attack]
    turns = [turn(call("run", command=plant)), *good_turns(1)]
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    result = harness_run(root, "run")
    assert not marker.exists()
    if attack == "hooks":
        assert result.returncode == 0, result.stderr  # hooks are off: nothing to refuse
        assert list(session_commits(root).values()) == [1]
    else:
        assert result.returncode == 2, result.stderr
        assert ("core.fsmonitor" if attack == "fsmonitor" else "filter.x.clean") in result.stderr
        assert session_commits(root) == {}
        # Fixed by the user, the next run resumes the open session and commits its work.
        git(
            root,
            "config",
            "--unset-all",
            "core.fsmonitor" if attack == "fsmonitor" else "filter.x.clean",
        )
        again = harness_run(root, "run")
        assert again.returncode == 0, again.stderr
        assert not marker.exists()
        assert list(session_commits(root).values()) == [1]


@pytest.mark.slow(reason="kills its harness child")  # a child process, SIGKILLed in its commit step
def test_a_kill_inside_the_commit_leaving_index_lock_resumes_and_commits_once(
    tmp_path: Path,
) -> None:
    """Issue 15: SIGKILL in the commit step, with the lock a killed `git commit` leaves;
    the next run clears it, commits the interrupted session once, and its verified pass
    stays passing (the next session's restore does not revert it)."""
    root = make_project(tmp_path / "p", count=2)
    init(root)
    crashed = harness_proc(root, "run", crash_in="git:commit")
    assert crashed.returncode == -9, crashed.stderr
    (root / ".git" / "index.lock").write_bytes(b"")
    resumed = harness_run(root, "run")
    assert resumed.returncode == 0, resumed.stderr
    assert "stale git lock" in resumed.stderr
    assert sorted(session_commits(root).values()) == [1, 1]
    assert progress_sessions(root) == {0: 1, 1: 1, 2: 1}
    assert passing(root) == [fid(1), fid(2)]
    shown = git(root, "show", "HEAD:feature_list.json").stdout
    assert shown.count('"passes": true') == 2
