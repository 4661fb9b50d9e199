"""What the tests of a work tree's blocker sweep share (tests/artifacts/test_git_sweep.py,
tests/fleet/test_sweep.py): a repository with an ignored `.venv`, and the walks counted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import walk


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, capture_output=True, check=True)


def count_walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every entry the blocker walks yield from now on."""
    seen: list[str] = []

    class Counted(walk.Walk):
        def __iter__(self) -> Iterator[walk.Entry]:
            for entry in super().__iter__():
                seen.append(entry.path)
                yield entry

    monkeypatch.setattr(walk, "Walk", Counted)  # as git_blockers finds it
    return seen


def with_venv(root: Path) -> None:
    """A repository at ``root`` (one commit) with a `.venv` of 200 files git ignores."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Ada Lovelace")
    git(root, "config", "user.email", "ada@example.org")
    (root / ".gitignore").write_text(".venv/\n")
    (root / "a.txt").write_text("a\n")
    git(root, "add", ".gitignore", "a.txt")
    git(root, "commit", "-q", "-m", "base")
    for package in range(20):  # a virtual environment: many files git never reads
        folder = root / ".venv" / "lib" / f"pkg{package}"
        folder.mkdir(parents=True)
        for module in range(10):
            (folder / f"m{module}.py").write_text("x = 1\n")
    (root / ".venv" / ".gitignore").write_text("*\n")  # as `python -m venv` writes it


def in_venv(paths: list[str]) -> int:
    return sum(path.startswith(".venv/") for path in paths)


HOW = ["rule", "tracked", "exclude"]
"""How the agent makes git read inside an ignored `.venv` again: un-ignores it, tracks a
file there, or empties .git/info/exclude (the tests left it out through that file)."""


def plant_where_git_reads(root: Path, how: str) -> Path:
    """Make git read in `.venv` (``how``), with a FIFO at `.venv/.gitignore`: its path."""
    fifo = root / ".venv" / ".gitignore"  # git reads it once it walks into .venv
    fifo.unlink()
    if how == "rule":
        (root / ".gitignore").write_text("*.pyc\n")
    elif how == "tracked":
        git(root, "add", "-f", ".venv/lib/pkg0/m0.py")  # git walks .venv for it
    else:
        (root / ".git" / "info" / "exclude").write_text("")
    os.mkfifo(fifo)
    return fifo
