"""mark_passing from inside the `code` tool: the program's calls go through the same
rules as direct calls, and what the harness reports (progress.md, the commit message)
agrees with the feature list it commits.

Runner-independent (code mode runs in the harness's own interpreter); run on the local
runner, where the check itself runs fastest.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.attacks.support import (
    assert_not_complete,
    assert_nothing_passes,
    committed_passing,
    disk_passing,
    git_out,
    project,
    run,
    runner_for,
)
from tests.session.support import call, tool_outputs, turn

HONEST = (
    'write_file(path="done_a.txt", content="done\\n")\n'
    'print(verify_feature(feature="F001"))\n'
    'print(mark_passing(feature="F001"))\n'
)
NO_CHECK = 'print(mark_passing(feature="F001"))\n'
FAILED_CHECK = 'print(verify_feature(feature="F001"))\nprint(mark_passing(feature="F001"))\n'


def _reported_passing(root: Path) -> bool:
    """Whether progress.md's last entry or HEAD's commit message says F001 passes."""
    progress = (root / "progress.md").read_text()
    entries = re.split(r"(?m)^## ", progress)
    subject = git_out(root, "log", "-1", "--format=%s")
    return "passing" in entries[-1].split("\n", 1)[0] or "F001 passing" in subject


def test_an_honest_mark_from_code_mode_is_reported_as_it_is_committed(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for("local", request)
    turns = [turn(call("code", program=HONEST)), {"text": "F001 done in one program."}]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    code, _ = run(root, tmp_path)
    assert (
        "tool calls: write_file (ok), verify_feature (ok), mark_passing (ok)"
        in (tool_outputs(root, "code")[0])
    )
    committed = committed_passing(root) == ["F001"]
    assert committed == _reported_passing(root), "the report and the commit disagree"
    assert committed == (disk_passing(root) == ["F001"])
    assert committed, "an honest check and mark inside code mode did not count"
    assert code == 0


@pytest.mark.parametrize("program", [NO_CHECK, FAILED_CHECK], ids=["no-check", "failed-check"])
def test_a_mark_from_code_mode_without_a_passing_check_is_refused(
    program: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for("local", request)
    turns = [turn(call("code", program=program)), {"text": "F001 passes."}]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    code, report = run(root, tmp_path)
    assert_not_complete(code, report)
    assert_nothing_passes(root)
    assert not _reported_passing(root), "progress.md or the commit claims a pass"
