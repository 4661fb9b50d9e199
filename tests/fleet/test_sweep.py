"""The sweep before the fleet's git reads a run's clone (artifacts/git_sweep.py): a folder git
ignores is walked once, not before every git command; a FIFO the agent plants where git
reads is still removed when it makes git read there (a rule changed, a file tracked)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artifacts import git_blockers
from artifacts.git_sweep import Sweep
from fleet.checkpoint import fingerprint, pack
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


def _clone(root: Path) -> None:
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


def _within(root: Path, sweep: Sweep) -> str:
    """fingerprint() on another thread, with a generous deadline (git blocked 300 s)."""
    done: list[str] = []
    reader = threading.Thread(target=lambda: done.append(fingerprint(root, sweep)), daemon=True)
    reader.start()
    reader.join(timeout=120)
    assert done, "the checkpoint's git is waiting on a FIFO"
    return done[0]


def _in_venv(paths: list[str]) -> int:
    return sum(path.startswith(".venv/") for path in paths)


def test_an_ignored_tree_is_walked_once_not_before_each_git(
    tmp_path: Path, walked: list[str]
) -> None:
    root = tmp_path / "clone"
    _clone(root)
    sweep = Sweep(root)
    first = fingerprint(root, sweep)
    assert _in_venv(walked) >= 200  # the first sweep walks the whole tree
    assert sweep.skip == {".venv"} and sweep.full == 1
    walked.clear()
    (root / "b.txt").write_text("b\n")  # a step that changes the tree
    assert fingerprint(root, sweep) != first
    pack(root, "HEAD", sweep)  # its checkpoint: git diff and ls-files, each swept
    assert _in_venv(walked) == 0, "the ignored tree was walked again"
    assert "b.txt" in walked and sweep.full == 1
    walked.clear()
    fingerprint(root)  # without a Sweep: the whole tree, as before
    assert _in_venv(walked) >= 200


@pytest.mark.parametrize("how", ["rule", "tracked", "exclude"])
def test_a_fifo_where_git_reads_again_is_removed(
    tmp_path: Path, how: str, walked: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent makes git read inside the left-out folder (un-ignores it, tracks a file
    there, or changes .git/info/exclude), and plants a FIFO named .gitignore there."""
    root = tmp_path / "clone"
    _clone(root)
    sweep = Sweep(root)
    fingerprint(root, sweep)
    assert sweep.skip == {".venv"}
    fifo = root / ".venv" / ".gitignore"  # git reads it once it walks into .venv
    fifo.unlink()
    if how == "rule":
        (root / ".gitignore").write_text("*.pyc\n")
    elif how == "tracked":
        _git(root, "add", "-f", ".venv/lib/pkg0/m0.py")  # git walks .venv for it
    else:
        (root / ".gitignore").write_text("")
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "exclude").write_text(".venv/\n")
        fingerprint(root, sweep)  # left out through info/exclude now
        assert sweep.skip == {".venv"}
        (root / ".git" / "info" / "exclude").write_text("")
    os.mkfifo(fifo)
    _within(root, sweep)
    assert not fifo.exists()
    assert "removed .venv/.gitignore" in capsys.readouterr().err


def test_a_nested_repository_pointing_into_the_left_out_folder(tmp_path: Path) -> None:
    """A `.git` file outside it names metadata inside it: git reads there, so it is swept."""
    root = tmp_path / "clone"
    _clone(root)
    sweep = Sweep(root)
    fingerprint(root, sweep)
    meta = root / ".venv" / "meta"
    (meta / "objects").mkdir(parents=True)
    (meta / "refs").mkdir()
    os.mkfifo(meta / "HEAD")
    (root / "m").mkdir()
    (root / "m" / ".git").write_text("gitdir: ../.venv/meta\n")
    _within(root, sweep)
    assert not (meta / "HEAD").exists()


def test_a_clone_whose_git_is_a_file_is_swept_whole(tmp_path: Path, walked: list[str]) -> Any:
    main = tmp_path / "main"
    _clone(main)
    _git(main, "worktree", "add", "-q", str(tmp_path / "linked"))
    linked = tmp_path / "linked"
    for package in range(3):
        (linked / ".venv" / f"p{package}").mkdir(parents=True)
        (linked / ".venv" / f"p{package}" / "m.py").write_text("x\n")
    sweep = Sweep(linked)
    fingerprint(linked, sweep)
    walked.clear()
    fingerprint(linked, sweep)
    assert sweep.skip == frozenset() and _in_venv(walked) == 3
