"""The sweep before the fleet's git reads a run's clone (artifacts/git_sweep.py): a folder git
ignores is walked once, not before every git command; a FIFO the agent plants where git
reads is still removed when it makes git read there (a rule changed, a file tracked)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from artifacts.git_sweep import Sweep
from fleet.checkpoint import fingerprint, pack
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


def _within(root: Path, sweep: Sweep) -> str:
    """fingerprint() on another thread, with a generous deadline (git blocked 300 s)."""
    done: list[str] = []
    reader = threading.Thread(target=lambda: done.append(fingerprint(root, sweep)), daemon=True)
    reader.start()
    reader.join(timeout=120)
    assert done, "the checkpoint's git is waiting on a FIFO"
    return done[0]


def test_an_ignored_tree_is_walked_once_not_before_each_git(
    tmp_path: Path, walked: list[str]
) -> None:
    root = tmp_path / "clone"
    with_venv(root)
    sweep = Sweep(root)
    first = fingerprint(root, sweep)
    assert in_venv(walked) >= 200  # the first sweep walks the whole tree
    assert sweep.skip == {".venv"} and sweep.full == 1
    walked.clear()
    (root / "b.txt").write_text("b\n")  # a step that changes the tree
    assert fingerprint(root, sweep) != first
    pack(root, "HEAD", sweep)  # its checkpoint: git diff and ls-files, each swept
    assert in_venv(walked) == 0, "the ignored tree was walked again"
    assert "b.txt" in walked and sweep.full == 1
    walked.clear()
    fingerprint(root)  # without a Sweep: the whole tree, as before
    assert in_venv(walked) >= 200


@pytest.mark.parametrize("how", HOW)
def test_a_fifo_where_git_reads_again_is_removed(
    tmp_path: Path, how: str, walked: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent makes git read inside the left-out folder (un-ignores it, tracks a file
    there, or changes .git/info/exclude), and plants a FIFO named .gitignore there."""
    root = tmp_path / "clone"
    with_venv(root)
    sweep = Sweep(root)
    fingerprint(root, sweep)
    assert sweep.skip == {".venv"}
    fifo = plant_where_git_reads(root, how)
    _within(root, sweep)
    assert not fifo.exists()
    assert "removed .venv/.gitignore" in capsys.readouterr().err


def test_a_nested_repository_pointing_into_the_left_out_folder(tmp_path: Path) -> None:
    """A `.git` file outside it names metadata inside it: git reads there, so it is swept."""
    root = tmp_path / "clone"
    with_venv(root)
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
    with_venv(main)
    git(main, "worktree", "add", "-q", str(tmp_path / "linked"))
    linked = tmp_path / "linked"
    for package in range(3):
        (linked / ".venv" / f"p{package}").mkdir(parents=True)
        (linked / ".venv" / f"p{package}" / "m.py").write_text("x\n")
    sweep = Sweep(linked)
    fingerprint(linked, sweep)
    walked.clear()
    fingerprint(linked, sweep)
    assert sweep.skip == frozenset() and in_venv(walked) == 3
