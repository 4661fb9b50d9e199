"""A model answer built to overwhelm the loop: thousands of tool calls in one answer (the
session's step limit must count each, not the answer), and one tool call whose argument
is tens of megabytes. Bounded and reported: the limit holds, the transcript stays valid,
nothing crashes, the journal verifies, and the big file is not committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import (
    assert_not_complete,
    git_out,
    journal_verifies,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, good_turns, turn

CALLS = 2000
STEPS = 20


@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_thousands_of_calls_in_one_answer_are_bounded_by_the_step_limit(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    flood = turn(*[call("run", command=f"touch ran_{i}") for i in range(CALLS)])
    toml = f"[budgets]\nrun_sessions = 1\nsession_steps = {STEPS}\n"
    root = project(tmp_path / "p", runner, sessions={1: [flood, *good_turns(1)]}, toml=toml)
    code, report = run(root, tmp_path)
    assert_not_complete(code, report)
    assert report.get("outcome") == "budget_exhausted", report
    ran = list(root.glob("ran_*"))
    assert 0 < len(ran) < STEPS, len(ran)  # each call is a step of the session's budget
    assert "not run" in (root / "progress.md").read_text()
    assert journal_verifies(root)


@pytest.mark.slow  # 7.3 CPU-s (bench/suite_census.py)
def test_a_tool_argument_of_tens_of_megabytes_is_bounded(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A 30 MB `content` (a real provider's output limit would stop it far earlier): the
    write lands on disk, the writeback's size limit keeps it out of git, the honest work
    goes on."""
    runner = runner_for("local", request)
    big = turn(call("write_file", path="huge.txt", content="A" * (30 * 1024 * 1024)))
    root = project(tmp_path / "p", runner, sessions={1: [big, *good_turns(1)]})
    code, report = run(root, tmp_path)
    assert code == 0 and report.get("outcome") == "complete", report
    tree = git_out(root, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert "done_a.txt" in tree and "huge.txt" not in tree
    assert "max_file_mb" in (root / "progress.md").read_text()
    assert journal_verifies(root)
