"""The journal forgery again, resumed after a crash instead of a park: verify (fails),
rewrite its row with sqlite3, then mark_passing, which is killed in flight (SIGKILL);
the resumed process replays the forged row and runs mark_passing again live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attacks.support import (
    assert_not_complete,
    assert_nothing_passes,
    journal_verifies,
    project,
    runner_for,
    runner_params,
)
from tests.attacks.test_journal_forgery import REWRITE, _verify_outputs
from tests.session.support import call, harness_proc, turn


@pytest.mark.slow(reason="crashes its harness child")  # two child harness processes
@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_forged_verification_row_is_not_evidence_after_a_crash(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [
        turn(call("verify_feature", feature="F001")),  # done_a.txt is missing: FAILS
        turn(call("run", command="python3 rewrite.py")),
        turn(call("mark_passing", feature="F001")),  # refused live; killed in flight
        {"text": "F001 passes."},
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns}, files={"rewrite.py": REWRITE})
    crashed = harness_proc(root, "run", "--unattended", crash_in="tool:mark_passing")
    assert crashed.returncode == -9, crashed.stderr  # the attack needs the kill
    report = tmp_path / "report.json"
    resumed = harness_proc(root, "run", "--unattended", "--report", str(report))
    # A journal refused at open (exit 2, named step) writes no report: that is the point.
    outcome = json.loads(report.read_text()) if report.is_file() else {}
    assert_not_complete(resumed.returncode, outcome)
    assert_nothing_passes(root)
    if any(out.startswith("F001 PASSES") for out in _verify_outputs(root)):
        assert not journal_verifies(root), "`journal verify` accepts a forged row"
