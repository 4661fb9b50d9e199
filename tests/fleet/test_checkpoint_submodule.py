"""The fleet's checkpoint reads the run's clone, which the agent writes, with the fleet
worker's git on the host: an embedded repository committed as a gitlink has its own
`.git/config`, which the agent can write. `git status` looked inside it and ran the clean
filter that config named (code on the fleet machine, as the worker). The fleet's git now
carries the harness's overrides for what git reads in a work tree (submodules ignored,
no fsmonitor, no mailmap)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from fleet.checkpoint import fingerprint, pack


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, capture_output=True, check=True)


def _clone_with_a_planted_gitlink(root: Path, marker: Path) -> None:
    for folder in (root, root / "sub"):
        folder.mkdir(parents=True)
        _git(folder, "init", "-q", "-b", "main")
        _git(folder, "config", "user.name", "Ada Lovelace")
        _git(folder, "config", "user.email", "ada@example.org")
    (root / "a.txt").write_text("a\n")
    (root / "sub" / "f").write_text("y\n")
    _git(root / "sub", "add", "f")
    _git(root / "sub", "commit", "-q", "-m", "sub")
    _git(root, "add", "a.txt", "sub")  # a gitlink
    _git(root, "commit", "-q", "-m", "base")
    # What the agent's command does in the embedded repository it can write:
    _git(root / "sub", "config", "filter.x.clean", f"touch {marker}; cat")
    (root / "sub" / ".gitattributes").write_text("* filter=x\n")
    os.utime(root / "sub" / "f", (1, 1))  # same size, other stamp: git must hash it


def test_the_checkpoint_runs_no_filter_of_an_embedded_repository(tmp_path: Path) -> None:
    root = tmp_path / "clone"
    marker = tmp_path / "ran-on-the-host"
    _clone_with_a_planted_gitlink(root, marker)
    fingerprint(root)
    pack(root, "HEAD")
    assert not marker.exists(), "the fleet's git ran a filter from the agent's config"


def test_a_fifo_where_git_reads_in_the_clone_is_removed_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO named `.gitignore` that the agent left in the run's clone blocked the
    checkpoint's `git status` until its 300 s timeout; it is removed first and named."""
    root = tmp_path / "clone"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a\n")
    (root / "deep").mkdir()
    os.mkfifo(root / "deep" / ".gitignore")
    done: list[str] = []
    reader = threading.Thread(target=lambda: done.append(fingerprint(root)), daemon=True)
    reader.start()
    reader.join(timeout=120)  # a generous deadline; git blocked for 300 s on the FIFO
    assert done, "the checkpoint's git status is still waiting on the FIFO"
    assert not (root / "deep" / ".gitignore").exists()
    assert "removed deep/.gitignore" in capsys.readouterr().err
