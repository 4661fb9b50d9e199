"""The fleet's checkpoint reads the run's clone, which the agent writes, with the fleet
worker's git on the host: an embedded repository committed as a gitlink has its own
`.git/config`, which the agent can write. `git status` looked inside it and ran the clean
filter that config named (code on the fleet machine, as the worker). The fleet's git now
carries the harness's overrides for what git reads in a work tree (submodules ignored,
no fsmonitor, no mailmap)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
