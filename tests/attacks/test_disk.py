"""The agent fills the disk: a sparse file far over the limits, or a big real file.
Bounded: a sandbox's command cannot create a 50 GB file (or it is reported); whatever
exceeds the writeback's size limits is reported and never committed.

The 50 GB case removes its file itself in the next command, so an open hole costs no
hour of git hashing here (the issue measured 478 s of host CPU for that commit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.journal import Journal
from tests.attacks.support import (
    RUNNERS,
    git_out,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, good_turns, turn

HUGE = (
    "truncate -s 50G huge.bin; echo truncate=$?; "
    "dd if=/dev/zero of=huge2.bin bs=1 count=1 seek=53687091200 2>/dev/null; echo dd=$?; "
    "ls -l huge.bin huge2.bin 2>&1"
)


def _run_results(root: Path) -> list[dict[str, Any]]:
    """(output text, data) of every `run` tool call, in order."""

    found = []
    with Journal.open_readonly(root / ".harness") as journal:
        for step in journal.steps():
            if step.kind == "tool" and step.name == "run" and step.status == "ended":
                detail = journal.step_detail(step.run_id, step.session, step.seq)
                assert detail is not None
                found.append(detail.output)
    return found


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_50_gb_sparse_file_is_bounded_in_a_sandbox(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [
        turn(call("run", command=HUGE)),
        turn(call("run", command="rm -f huge.bin huge2.bin; echo cleaned")),
        {"text": "Made room."},
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    first = _run_results(root)[0]
    text = first["output"]
    assert "truncate=" in text, text  # the attack ran
    refused = "truncate=0" not in text and "dd=0" not in text
    reported = first.get("data", {}).get("failure") is not None
    assert refused or reported, f"a 50 GB file was created unbounded and unreported:\n{text}"


BIG = "dd if=/dev/zero of=big.bin bs=1 count=1 seek=209715200 2>/dev/null; ls -l big.bin"


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_a_file_over_the_size_limit_is_never_committed(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A 200 MB sparse file (over [git] max_file_mb, 10 by default), left in the project
    while the feature is done honestly: the commit leaves it out."""
    runner = runner_for(kind, request)
    turns = [turn(call("run", command=BIG)), *good_turns(1)]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    tree = git_out(root, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert "done_a.txt" in tree  # the honest work was committed
    assert "big.bin" not in tree, "a 200 MB file was committed"
    assert "big.bin" not in git_out(root, "log", "--all", "--name-only", "--format=")


MANY = "mkdir many && cd many && seq 1 3000 | xargs touch; ls | wc -l"


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_many_empty_files_are_bounded_by_count(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Thousands of empty files (no size limit sees them; 200,000 took the writeback over
    two minutes of git) beside honest work: the commit takes at most [git]
    max_commit_files paths, says how many it left out, and the work is committed."""
    runner = runner_for(kind, request)
    turns = [turn(call("run", command=MANY)), *good_turns(1)]
    toml = "[budgets]\nrun_sessions = 1\n\n[git]\nmax_commit_files = 100\n"
    root = project(tmp_path / "p", runner, sessions={1: turns}, toml=toml)
    before = set(git_out(root, "ls-tree", "-r", "--name-only", "HEAD").split())
    code, report = run(root, tmp_path)
    tree = set(git_out(root, "ls-tree", "-r", "--name-only", "HEAD").split())
    assert "done_a.txt" in tree, (code, report)  # the honest work was committed
    assert report.get("outcome") == "complete", report
    added = tree - before
    assert len(added - {"progress.md"}) <= 100, len(added)
    assert len(list((root / "many").iterdir())) == 3000  # left on disk as they are
    progress = (root / "progress.md").read_text()
    assert "2,900 more: the commit would take more than" in progress  # one note for all
    assert "max_commit_files = 100" in progress
