"""What lies in the protected paths beyond HEAD, and the bytecode cached for them.

``[protect] paths`` are put back as HEAD has them before a check and at the writeback.
``git status`` alone cannot see all of it: it leaves out ignored files, so a
``conftest.py`` the agent wrote into a protected folder and named in ``.gitignore``
stayed there, and pytest ran it (local runner; a sandbox mounts the folder read-only).
So the protected trees are compared on disk with HEAD: every entry HEAD does not hold is
an *extra*. The extras at wake are the user's (their ignored data, their caches) and are
kept as long as they are the very same files (inode, size, times: a write changes the
ctime, which no one can set back); any other is removed.

Python also runs what it finds cached for a source file: a ``__pycache__/*.pyc`` whose
recorded source hash or mtime matches the protected file is loaded instead of the file
(a forged one made a never-passing check pass on bubblewrap and local). Checks run with
:data:`CHECK_ENV` (no cache read from the tree, none written), and the cached bytecode of
protected sources is removed before each check, for a check that starts Python in a way
that ignores the environment (``python -E``).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_safety import run_git
from artifacts.git_tree import head_sha
from harness import walk

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks

CHECK_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",
    # Imports (and pytest's rewritten tests) look for bytecode here only: a folder that
    # does not exist, so every protected source is compiled from its own text.
    "PYTHONPYCACHEPREFIX": "/nonexistent/harness-check-bytecode",
}
"""The environment of a check: no bytecode cache is read from the project or written."""

Identity = list[int]


def _identity(info: os.stat_result) -> Identity:
    return [info.st_mode, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def head_files(root: Path, paths: list[str], checks: ConfigChecks | None = None) -> set[str]:
    """The paths HEAD holds under ``paths`` (files, links, submodules); with ``checks`` (a
    run's), HEAD is the commit it names and the listing of one commit is kept."""

    def ask(rev: str) -> frozenset[str]:
        done = run_git(
            root, "ls-tree", "-r", "-z", "--name-only", "--full-tree", rev, "--", *paths,
            env={"GIT_LITERAL_PATHSPECS": "1"}, check=False, checks=checks,
        )  # fmt: skip
        if done.returncode != 0:
            return frozenset()  # no HEAD yet: nothing is committed, every entry is an extra
        names = done.stdout.split(b"\0")
        return frozenset(name.decode("utf-8", "surrogateescape") for name in names if name)

    head = head_sha(root, checks) if checks is not None else None
    if checks is None or head is None:
        return set(ask("HEAD"))
    return set(checks.at_commit(root, ("ls-tree", head, *paths), lambda: ask(head)))


def extras(root: Path, paths: list[str], checks: ConfigChecks | None = None) -> dict[str, Identity]:
    """Every entry under the protected ``paths`` that HEAD does not hold (ignored and
    untracked alike; links not followed), with its identity."""
    head = head_files(root, paths, checks)
    found: dict[str, Identity] = {}
    for path in paths:
        parent, _, name = path.rpartition("/")
        try:
            fd = walk.open_folder(root, parent)
        except OSError:
            continue  # not there (or not a folder): nothing under it
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                if path not in head:
                    found[path] = _identity(info)
                continue
            inner = os.open(name, walk.FOLDER_FLAGS, dir_fd=fd)
        except OSError:
            continue
        finally:
            os.close(fd)
        try:
            for entry in walk.Walk(inner, skip_own=False):
                relative = f"{path}/{entry.path}"
                if relative not in head and not _under_submodule(relative, head):
                    with contextlib.suppress(OSError):
                        found[relative] = _identity(entry.stat())
        finally:
            os.close(inner)
    return found


def _under_submodule(path: str, head: set[str]) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:depth]) in head for depth in range(1, len(parts)))


def remove_new(
    root: Path,
    paths: list[str],
    known: dict[str, Identity],
    checks: ConfigChecks | None = None,
) -> list[str]:
    """Remove every extra under ``paths`` that was not there at wake as the very same
    file (``known``, from :func:`extras`); the paths removed."""
    removed = []
    for path, identity in sorted(extras(root, paths, checks).items()):
        if known.get(path) == identity:
            continue  # the user's, untouched since the session woke
        parent, _, name = path.rpartition("/")
        try:
            fd = walk.open_folder(root, parent)
        except OSError:
            continue
        try:
            os.unlink(name, dir_fd=fd)
            removed.append(path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
    return removed


def clear_bytecode(root: Path, paths: list[str]) -> list[str]:
    """Remove the bytecode cached for each protected Python source that lies outside a
    protected folder (``<dir>/__pycache__/<name>.*.pyc``; inside one, :func:`remove_new`
    does); the paths removed."""
    removed = []
    for path in paths:
        if not path.endswith(".py"):
            continue
        parent, _, name = path.rpartition("/")
        cache = f"{parent}/__pycache__" if parent else "__pycache__"
        if any(cache == p or cache.startswith(f"{p}/") for p in paths):
            continue
        try:
            fd = walk.open_folder(root, cache)
        except OSError:
            continue
        try:
            stem = name[: -len(".py")] + "."
            for entry in os.listdir(fd):
                if entry.startswith(stem) and entry.endswith(".pyc"):
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        os.unlink(entry, dir_fd=fd)
                        removed.append(f"{cache}/{entry}")
        finally:
            os.close(fd)
    return removed
