"""harness's own git keeps a work tree's blocker sweep in the run's ConfigChecks
(artifacts/git_sweep.py): a folder git ignores (a `.venv`) is walked by the first two
work-tree commands, not before each; a FIFO the agent plants where it makes git read
again (a rule changed, a file tracked, info/exclude emptied) is still removed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from artifacts.git_safety import ConfigChecks, run_git
from artifacts.git_state import init_sh_trusted
from tests.artifacts.sweep_support import (
    HOW,
    count_walks,
    git,
    in_venv,
    plant_where_git_reads,
    with_venv,
)


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every entry the blocker walks yield."""
    return count_walks(monkeypatch)


def _status(root: Path, checks: ConfigChecks | None) -> None:
    """`git status` through run_git on another thread, with a generous deadline (git
    waits on a FIFO forever)."""
    done: list[int] = []

    def status() -> None:
        done.append(run_git(root, "status", "--porcelain", checks=checks).returncode)

    reader = threading.Thread(target=status, daemon=True)
    reader.start()
    reader.join(timeout=120)
    assert done == [0], "git status is waiting on a FIFO"


def test_a_runs_checks_walk_an_ignored_tree_twice_not_before_each_git(
    tmp_path: Path, walked: list[str]
) -> None:
    root = tmp_path / "p"
    with_venv(root)
    checks = ConfigChecks()
    for _ in range(2):  # the first command: the whole tree; the second: the Sweep learns
        walked.clear()
        _status(root, checks)
        assert in_venv(walked) >= 200
    for _ in range(3):
        walked.clear()
        (root / "b.txt").write_text("b\n")  # a step that changes the tree
        _status(root, checks)
        assert in_venv(walked) == 0, "the ignored tree was walked again"
        assert "b.txt" in walked
    walked.clear()
    run_git(root, "rev-parse", "HEAD", checks=checks)  # not a work-tree reader: no walk
    assert walked == []
    walked.clear()
    _status(root, None)  # without a ConfigChecks: the whole tree, as before
    assert in_venv(walked) >= 200
    walked.clear()
    _status(root, ConfigChecks())  # a new owner's first command: the whole tree
    assert in_venv(walked) >= 200


@pytest.mark.parametrize("how", HOW)
def test_a_fifo_where_git_reads_again_is_removed(
    tmp_path: Path, how: str, walked: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent makes git read inside the left-out folder (un-ignores it, tracks a file
    there, or empties .git/info/exclude), and plants a FIFO named .gitignore there."""
    root = tmp_path / "p"
    with_venv(root)
    checks = ConfigChecks()
    if how == "exclude":
        (root / ".gitignore").write_text("")
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "exclude").write_text(".venv/\n")
    for _ in range(3):
        _status(root, checks)
    walked.clear()
    _status(root, checks)
    assert in_venv(walked) == 0  # left out now
    fifo = plant_where_git_reads(root, how)
    _status(root, checks)
    assert not fifo.exists()
    assert "removed .venv/.gitignore" in capsys.readouterr().err


def test_init_sh_trusted_sweeps_with_the_sessions_checks(tmp_path: Path, walked: list[str]) -> None:
    """Wake asks whether init.sh is as committed with `git status` (a work-tree reader):
    with the session's ConfigChecks, past its first commands, the .venv is left out."""
    root = tmp_path / "p"
    with_venv(root)
    (root / "init.sh").write_text("#!/bin/sh\n")
    git(root, "add", "init.sh")
    git(root, "commit", "-q", "-m", "init.sh")
    checks = ConfigChecks()
    for _ in range(2):
        _status(root, checks)
    walked.clear()
    assert init_sh_trusted(root, checks=checks)
    assert in_venv(walked) == 0 and "init.sh" in walked
    walked.clear()
    assert init_sh_trusted(root)  # no checks: the whole tree, as before
    assert in_venv(walked) >= 200
