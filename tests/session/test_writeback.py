"""The writeback commits only what harness decided (real git, the real CLI, a scripted model).

The user's own uncommitted files, `.harness/`, secrets, oversized files and protected
paths stay out of the commits; the feature list committed is the one harness wrote even
while a background process rewrites the file on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.session.support import (
    call,
    fid,
    good_turns,
    harness,
    harness_proc,
    harness_run,
    init,
    llm_inputs,
    make_project,
    passing,
    session_commits,
    turn,
)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def tracked(root: Path) -> set[str]:
    return set(git(root, "ls-files").split())


def committed_by_sessions(root: Path) -> set[str]:
    """Every path a harness session commit touched."""
    out = git(root, "log", "--format=", "--name-only", "--grep=Harness-Session")
    return {line for line in out.splitlines() if line}


def test_users_dirty_and_untracked_files_stay_out_and_untouched(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1, files={"notes/mine.txt": "v1\n"})
    init(root)
    (root / "SPEC.md").write_text("# my own edit, not committed yet\n")
    (root / "draft.txt").write_text("my draft\n")
    git(root, "add", "draft.txt")  # staged by the user: still theirs
    (root / "scratch.txt").write_text("untracked\n")
    result = harness_run(root, "run")
    assert result.returncode == 0, result.stderr
    assert "uncommitted file(s) at the start of this session (yours, or left out" in result.stderr
    touched = committed_by_sessions(root)
    assert "done_a.txt" in touched
    assert not touched & {"SPEC.md", "draft.txt", "scratch.txt"}
    assert (root / "SPEC.md").read_text() == "# my own edit, not committed yet\n"
    assert (root / "scratch.txt").read_text() == "untracked\n"
    status = git(root, "status", "--porcelain")
    assert " M SPEC.md" in status and "A  draft.txt" in status and "?? scratch.txt" in status
    assert "done_a.txt" not in status and "feature_list.json" not in status


def test_harness_state_is_never_staged_whatever_gitignore_says(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    (root / ".gitignore").write_text("")  # the user dropped the .harness/ line
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qam", "drop ignore")
    assert harness(root, "run") == 0
    assert not [p for p in tracked(root) if p.startswith(".harness")]
    assert passing(root) == [fid(1)]


@pytest.mark.slow  # 1.1 CPU-s
def test_secret_values_and_key_shapes_are_not_committed_and_the_agent_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "hunter2-very-secret-value"
    monkeypatch.setenv("DEPLOY_PASSWORD", secret)
    turns = [
        turn(call("run", command="cat /proc/$PPID/environ | tr '\\0' '\\n' > env_dump.txt")),
        turn(call("write_file", path="config.py", content='KEY = "AKIAABCDEFGHIJKLMNOP"\n')),
        turn(call("write_file", path="ok.py", content="print('fine')\n")),
        *good_turns(1),
    ]
    root = make_project(tmp_path / "p", count=2, sessions={1: turns})
    init(root)
    # A new process: the agent reads its /proc/<pid>/environ, which a fork would not have.
    result = harness_proc(root, "run", env={"DEPLOY_PASSWORD": secret}, fresh=True)
    history = git(root, "log", "-p", "--all", "--", ".", ":!script.json")
    assert secret not in history and "AKIAABCDEFGHIJKLMNOP" not in history
    assert {"env_dump.txt", "config.py"}.isdisjoint(tracked(root))
    assert "ok.py" in tracked(root)
    assert (root / "config.py").exists()  # left on disk for the agent to fix
    progress = (root / "progress.md").read_text()
    assert "not committed: config.py" in progress and "aws access key" in progress
    assert "$DEPLOY_PASSWORD" in progress or "env_dump.txt" in progress
    assert result.returncode == 0, result.stderr
    # The next session's brief carries the note (progress.md is read at wake).

    briefs = [json.dumps(inputs) for step, inputs in llm_inputs(root) if step.session == 2]
    assert briefs and "not committed: config.py" in briefs[0]


def test_size_limits_come_from_stat_and_are_reported(tmp_path: Path) -> None:
    turns = [
        # A 50 GB sparse file: reading it would take minutes; it must be skipped by size.
        turn(
            call("run", command="truncate -s 50G huge.bin && head -c 300000 /dev/zero > mid1.bin")
        ),
        turn(call("run", command="head -c 300000 /dev/zero > mid2.bin")),
        *good_turns(1),
    ]
    # The runner's own limits off (these keys land in make_project's [runner] table), so
    # the writeback's bound is the one tested.
    toml = "max_file_mb = 0\ndisk_mb = 0\n\n[git]\nmax_file_mb = 1\nmax_commit_mb = 0.5\n"
    root = make_project(tmp_path / "p", count=1, sessions={1: turns}, toml=toml)
    init(root)
    assert harness(root, "run") == 0
    files = tracked(root)
    assert "huge.bin" not in files
    assert len({"mid1.bin", "mid2.bin"} & files) == 1  # the second would pass 0.5 MiB
    progress = (root / "progress.md").read_text()
    assert "huge.bin" in progress and "max_file_mb = 1" in progress
    assert "max_commit_mb = 0.5" in progress


def test_a_background_rewrite_of_the_feature_list_is_never_committed(tmp_path: Path) -> None:
    """A process the agent started keeps writing a forged all-passing list, during and
    after the writeback; the committed blob is the list harness wrote."""
    pidfile = tmp_path / "forger.pid"
    forger = (
        "python3 - <<'EOF'\n"
        "import json, os, time, subprocess\n"
        "d = json.load(open('feature_list.json'))\n"
        "for f in d['features']:\n"
        "    f['passes'] = True\n"
        "    f['evidence'] = {'verification': 'journal:x/1/1', 'at': '2026-01-01T00:00:00Z',"
        " 'exit_code': 0, 'output_digest': 'sha256:' + '0'*64, 'command': 'true', 'session': 1}\n"
        "forged = json.dumps(d, indent=2)\n"
        "open('forged.json', 'w').write(forged)\n"
        "EOF\n"
        f"setsid sh -c 'echo $$ > {pidfile}; while :; do cp forged.json feature_list.json.tmp "
        "2>/dev/null; mv feature_list.json.tmp feature_list.json 2>/dev/null; done' "
        ">/dev/null 2>&1 < /dev/null &"
    )
    turns = [turn(call("run", command=forger)), *good_turns(1)]
    root = make_project(
        tmp_path / "p", count=2, sessions={1: turns}, toml="[budgets]\nrun_sessions = 1\n"
    )
    init(root)
    try:
        code = harness(root, "run")
    finally:
        for _ in range(50):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.1)
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(pidfile.read_text()), signal.SIGKILL)
    committed = json.loads(git(root, "show", "HEAD:feature_list.json"))
    states = {f["id"]: f["passes"] for f in committed["features"]}
    assert states == {fid(1): True, fid(2): False}
    assert committed["features"][0]["evidence"]["verification"].startswith("journal:")
    assert committed["features"][0]["evidence"]["verification"] != "journal:x/1/1"
    assert code == 3  # the forged all-passing file on disk did not finish the run
    assert session_commits(root) == {next(iter(session_commits(root))): 1}
