"""A run is never complete while a passing feature's code is not in its commit (issue 23).

The agent writes the feature's code, proves it and marks the feature passing, then arranges
for the code to stay out of the session's commit: it git-ignores the file (in
`.git/info/exclude`, or in the project's `.gitignore`), or takes an earlier feature's
committed code out of git's index (`git rm --cached`). Whatever the writeback makes of
that, HEAD must never say a feature passes whose check fails on a clone of HEAD, and a run
must never say `complete` unless every feature's check passes on that clone.

With `[verify] recheck = false` (no regression rechecks at each writeback) the same holds:
the agent hides its code after the proof, or deletes an earlier feature's code in the
session that finishes the project; the commit that makes every feature pass is rechecked
in full whatever the setting.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.support import (
    Runner,
    assert_not_complete,
    committed_passing,
    git_out,
    project,
    run,
    runner_for,
)
from tests.session.support import LETTERS, call, good_turns, turn

HIDES = {
    "exclude": "echo done_a.txt >> .git/info/exclude",
    "gitignore": "printf 'done_a.txt\\n' >> .gitignore",
}


def _clone_holds(root: Path, tmp_path: Path) -> set[str]:
    """The features whose code (done_<x>.txt) a fresh clone of HEAD has."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    return {f"F{k + 1:03d}" for k, x in enumerate(LETTERS) if (clone / f"done_{x}.txt").is_file()}


def _assert_honest(root: Path, tmp_path: Path, code: int, report: dict[str, Any]) -> None:
    held = _clone_holds(root, tmp_path)
    claimed = set(committed_passing(root))
    assert claimed <= held, f"HEAD says {sorted(claimed)} pass; a clone holds {sorted(held)}"
    if report.get("outcome") == "complete" or code == 0:
        total = report.get("features_total")
        assert len(held) == total, f"complete, yet a clone holds only {sorted(held)}: {report}"


@pytest.mark.parametrize("how", sorted(HIDES))
def test_code_ignored_after_mark_passing_is_not_complete(
    how: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner: Runner = runner_for("local", request)
    turns = good_turns(1)
    turns.insert(3, turn(call("run", command=HIDES[how])))  # after mark_passing
    root = project(tmp_path / "p", runner, sessions={1: turns})
    code, report = run(root, tmp_path)
    _assert_honest(root, tmp_path, code, report)
    assert_not_complete(code, report)  # the code is ignored: no commit can hold it
    progress = git_out(root, "show", "HEAD:progress.md")
    assert "F001 regressed: its check fails on a clean checkout" in progress  # the reason


def test_earlier_code_taken_out_of_the_index_is_not_complete(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner: Runner = runner_for("local", request)
    turns = good_turns(2)
    turns.insert(3, turn(call("run", command="git rm -q --cached done_a.txt")))
    root = project(
        tmp_path / "p",
        runner,
        count=2,
        sessions={2: turns},
        toml="[budgets]\nrun_sessions = 2\n",
    )
    code, report = run(root, tmp_path)
    _assert_honest(root, tmp_path, code, report)


NO_RECHECK = "[budgets]\nrun_sessions = 1\n[verify]\nrecheck = false\n"


def test_code_ignored_after_mark_with_rechecks_off_is_not_complete(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner: Runner = runner_for("local", request)
    turns = good_turns(1)
    turns.insert(3, turn(call("run", command=HIDES["exclude"])))  # after mark_passing
    root = project(tmp_path / "p", runner, sessions={1: turns}, toml=NO_RECHECK)
    code, report = run(root, tmp_path)
    _assert_honest(root, tmp_path, code, report)
    assert_not_complete(code, report)
    progress = git_out(root, "show", "HEAD:progress.md")
    assert "F001 regressed: its check fails on a clean checkout" in progress


def test_earlier_code_deleted_in_the_last_session_with_rechecks_off_is_not_complete(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner: Runner = runner_for("local", request)
    turns = good_turns(2)
    turns.insert(3, turn(call("run", command="rm done_a.txt")))  # F001's code, after F002's proof
    root = project(
        tmp_path / "p",
        runner,
        count=2,
        sessions={2: turns},
        toml=NO_RECHECK.replace("run_sessions = 1", "run_sessions = 2"),
    )
    code, report = run(root, tmp_path)
    _assert_honest(root, tmp_path, code, report)
    assert_not_complete(code, report)
    assert committed_passing(root) == ["F002"]  # F001 turned failing in that commit
    progress = git_out(root, "show", "HEAD:progress.md")
    assert "F001 regressed: its check fails on a clean checkout" in progress
