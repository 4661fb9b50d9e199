"""harness's own git keeps a work tree's blocker sweep in the run's ConfigChecks
(artifacts/git_sweep.py): a folder git ignores (a `.venv`) is walked by the first two
work-tree commands, not before each; a FIFO the agent plants where it makes git read
again (a rule changed, a file tracked, info/exclude emptied) is still removed."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from artifacts import git_blockers
from artifacts.git_safety import ConfigChecks, run_git
from harness import walk


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, capture_output=True, check=True)


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every entry the blocker walks yield."""
    seen: list[str] = []

    class Counted(walk.Walk):
        def __iter__(self) -> Iterator[walk.Entry]:
            for entry in super().__iter__():
                seen.append(entry.path)
                yield entry

    monkeypatch.setattr(git_blockers.walk, "Walk", Counted)
    return seen


def _project(root: Path) -> None:
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Ada Lovelace")
    _git(root, "config", "user.email", "ada@example.org")
    (root / ".gitignore").write_text(".venv/\n")
    (root / "a.txt").write_text("a\n")
    _git(root, "add", ".gitignore", "a.txt")
    _git(root, "commit", "-q", "-m", "base")
    for package in range(20):  # a virtual environment: many files git never reads
        folder = root / ".venv" / "lib" / f"pkg{package}"
        folder.mkdir(parents=True)
        for module in range(10):
            (folder / f"m{module}.py").write_text("x = 1\n")
    (root / ".venv" / ".gitignore").write_text("*\n")  # as `python -m venv` writes it


def _in_venv(paths: list[str]) -> int:
    return sum(path.startswith(".venv/") for path in paths)


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
    _project(root)
    checks = ConfigChecks()
    for _ in range(2):  # the first command: the whole tree; the second: the Sweep learns
        walked.clear()
        _status(root, checks)
        assert _in_venv(walked) >= 200
    for _ in range(3):
        walked.clear()
        (root / "b.txt").write_text("b\n")  # a step that changes the tree
        _status(root, checks)
        assert _in_venv(walked) == 0, "the ignored tree was walked again"
        assert "b.txt" in walked
    walked.clear()
    run_git(root, "rev-parse", "HEAD", checks=checks)  # not a work-tree reader: no walk
    assert walked == []
    walked.clear()
    _status(root, None)  # without a ConfigChecks: the whole tree, as before
    assert _in_venv(walked) >= 200
    walked.clear()
    _status(root, ConfigChecks())  # a new owner's first command: the whole tree
    assert _in_venv(walked) >= 200


@pytest.mark.parametrize("how", ["rule", "tracked", "exclude"])
def test_a_fifo_where_git_reads_again_is_removed(
    tmp_path: Path, how: str, walked: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent makes git read inside the left-out folder (un-ignores it, tracks a file
    there, or empties .git/info/exclude), and plants a FIFO named .gitignore there."""
    root = tmp_path / "p"
    _project(root)
    checks = ConfigChecks()
    if how == "exclude":
        (root / ".gitignore").write_text("")
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "exclude").write_text(".venv/\n")
    for _ in range(3):
        _status(root, checks)
    walked.clear()
    _status(root, checks)
    assert _in_venv(walked) == 0  # left out now
    fifo = root / ".venv" / ".gitignore"  # git reads it once it walks into .venv
    fifo.unlink()
    if how == "rule":
        (root / ".gitignore").write_text("*.pyc\n")
    elif how == "tracked":
        _git(root, "add", "-f", ".venv/lib/pkg0/m0.py")  # git walks .venv for it
    else:
        (root / ".git" / "info" / "exclude").write_text("")
    os.mkfifo(fifo)
    _status(root, checks)
    assert not fifo.exists()
    assert "removed .venv/.gitignore" in capsys.readouterr().err
