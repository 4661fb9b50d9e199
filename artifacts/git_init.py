"""A real repository at a project's root: checked, and made again after a killed `git init`.

``git init`` writes ``.git/`` piece by piece (description, hooks, info, HEAD, config,
refs, objects); a kill in the middle leaves a ``.git`` git does not take for a
repository, and every later git command fails on it (or, in a folder inside another
work tree, walks up to that one). :func:`ensure_repository` checks the world, not only
that ``.git`` exists: git must see a repository whose work tree is ``root``. A ``.git``
that git does not take and that holds nothing of value (no object, no ref, no index, no
reflog, a config of ``core.*`` keys only: what an interrupted ``git init`` leaves) is
removed and made again; anything else is refused with what is there and what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from artifacts.git import GitRepo
from artifacts.git_safety import git_argv, git_env
from harness.errors import GitError, GitRefused

# What may be under .git after a kill inside `git init` (files directly in .git/ are
# either these or git's own temporary files: a filemode probe, a lock).
_INIT_DIRS = ("hooks", "info", "branches", "refs", "objects")
_VALUABLE = ("index", "packed-refs", "logs", "ORIG_HEAD", "FETCH_HEAD", "MERGE_HEAD", "modules")


def toplevel(root: Path) -> Path | None:
    """The work tree git finds from ``root`` (None if git finds no repository)."""

    try:
        done = subprocess.run(
            git_argv(root, "rev-parse", "--show-toplevel"),
            capture_output=True,
            env=git_env(),
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git rev-parse failed in {root}: {error}") from None
    if done.returncode != 0:
        return None
    return Path(os.fsdecode(done.stdout.strip()))


def is_repository(root: Path) -> bool:
    """Whether ``root`` is the top of a work tree git can use (not a half-made ``.git``,
    not a folder inside another repository)."""
    found = toplevel(root)
    return (
        found is not None and (root / ".git").exists() and found.resolve() == Path(root).resolve()
    )


def interrupted_init(git_dir: Path) -> str | None:
    """Why ``git_dir`` holds something of value (None: only what a killed `git init`
    leaves, safe to make again)."""
    if git_dir.is_symlink() or not git_dir.is_dir():
        return f"{git_dir} is not a folder"
    for name in _VALUABLE:
        if (git_dir / name).exists():
            return f"it holds {name}"
    for name in ("objects", "refs"):
        for _, _, files in os.walk(git_dir / name):
            if files:
                return f"it holds {name} ({files[0]})"
    config = git_dir / "config"
    if config.is_file():
        try:
            text = config.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return f"its config cannot be read ({error})"
        sections = {line.strip() for line in text.splitlines() if line.strip().startswith("[")}
        if sections - {"[core]"}:
            return f"its config has {sorted(sections - {'[core]'})[0]}"
    for entry in git_dir.iterdir():
        if entry.is_dir() and entry.name not in _INIT_DIRS:
            return f"it holds the folder {entry.name}"
    return None


def ensure_repository(root: Path) -> list[str]:
    """Make ``root`` a repository git can use, creating it if there is none; the notes
    say what was done. GitRefused when a ``.git`` git does not take holds anything that
    is not what an interrupted `git init` leaves: it is never removed."""

    git_dir = root / ".git"
    notes: list[str] = []
    if os.path.lexists(git_dir):
        if is_repository(root):
            return notes
        why = interrupted_init(git_dir)
        if why is not None:
            raise GitRefused(
                f"{git_dir} is not a git repository git can use, and {why}, so harness "
                "leaves it alone. Repair it, or move it aside (mv .git .git.broken) to let "
                "harness make a new one, then run the command again."
            )
        shutil.rmtree(git_dir)
        notes.append(
            f"removed {git_dir}: an interrupted `git init` left it half made (no object, "
            "ref or setting of yours); made it again"
        )
    GitRepo.init(root).close()
    if not is_repository(root):
        raise GitError(f"`git init` in {root} did not make a repository git can use")
    return notes
