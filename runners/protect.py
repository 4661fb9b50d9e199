"""Protected paths: the harness's state and the user's list, read-only to every workload.

The harness's own state is always protected (``.git``, ``.harness``,
``feature_list.json``); ``[protect] paths`` in harness.toml adds files or directories
relative to the project root. A sandbox binds each existing path read-only over itself.
A mount point cannot be renamed or removed, but a directory that merely *contains* one
can: ``mv tests t2 && mkdir -p tests/acceptance`` would swap a protected
``tests/acceptance`` for the agent's own. So every directory between the project root
and a protected path is bound (read-write) over itself too, which pins it in place.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.walk import remove_tree

HARNESS_STATE = (".git", ".harness", "feature_list.json")


def normalize(paths: Iterable[str], *, state: bool = True) -> list[str]:
    """The harness's state (unless ``state`` is False) plus ``paths``, as clean relative
    POSIX paths, in order, unique.

    Raises:
        ValueError: a path is absolute, empty, or leaves the project (``..``).
    """
    result: list[str] = []
    for raw in [*(HARNESS_STATE if state else ()), *paths]:
        text = str(raw).replace("\\", "/").strip()
        clean = posixpath.normpath(text) if text else ""
        if not clean or clean == "." or clean.startswith("/") or clean.split("/")[0] == "..":
            raise ValueError(
                f"protected path {raw!r} must be a file or folder inside the project, "
                "relative to its root (no leading /, no ..)"
            )
        if clean not in result:
            result.append(clean)
    return result


@dataclass(frozen=True)
class MountPlan:
    """What to bind: ``pinned`` directories read-write, then ``readonly`` paths."""

    pinned: list[str]
    readonly: list[str]


def plan(root: Path, protected: Iterable[str]) -> MountPlan:
    """The binds for the protected paths that exist now (symlinks are not followed)."""
    readonly: list[str] = []
    pinned: list[str] = []
    for relative in protected:
        target = root / relative
        if target.is_symlink() or not target.exists():
            continue  # absent: nothing to protect yet (the file tools refuse to create it)
        if not target.resolve().is_relative_to(root):
            continue
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            folder = root / ancestor
            if ancestor not in pinned and folder.is_dir() and not folder.is_symlink():
                pinned.append(ancestor)
        readonly.append(relative)
    pinned = sorted((p for p in pinned if p not in readonly), key=_depth)
    return MountPlan(pinned=pinned, readonly=sorted(readonly, key=_depth))


def _depth(relative: str) -> int:
    """Shallower binds go first, so a deeper one lands on top of them."""
    return relative.count("/")


def absent(root: Path, protected: Iterable[str]) -> list[str]:
    """The protected paths that do not exist now (a command must not create them)."""
    return [relative for relative in protected if not os.path.lexists(root / relative)]


def remove_created(root: Path, were_absent: Iterable[str]) -> list[str]:
    """Remove the protected paths a command created; the ones it created, in order.

    A bind cannot protect a path that does not exist, so the runner checks after the
    command (in bubblewrap nothing runs any more by then). Nothing outside the project
    is touched: a path whose folder resolves outside it is reported, not removed.
    """
    created = []
    for relative in were_absent:
        target = root / relative
        if not os.path.lexists(target):
            continue
        created.append(relative)
        folder = target.parent.resolve()
        if not folder.is_relative_to(root):
            continue
        victim = folder / target.name
        if victim.is_dir() and not victim.is_symlink():
            remove_tree(victim)  # iterative: a 100,000-deep tree in its place goes too
        else:
            with contextlib.suppress(FileNotFoundError):
                victim.unlink()
    return created


def covered(
    root: Path, protected: Iterable[str], hidden: Iterable[str]
) -> tuple[MountPlan, list[str]]:
    """The binds for ``protected`` and ``hidden`` paths together (the folders above both
    pinned), and which of the read-only ones are hidden: a sandbox covers those (an empty
    read-only folder, or an empty file) instead of showing them. A protected path inside a
    hidden one is left out: binding it would show it again."""
    hidden = [h for h in hidden if h not in HARNESS_STATE]
    inside = [p for p in protected if p not in hidden and not _under_any(p, hidden)]
    mounts = plan(root, [*inside, *hidden])
    shown = set(mounts.readonly)
    return mounts, [h for h in hidden if h in shown]


def _under_any(path: str, folders: Iterable[str]) -> bool:
    return any(path.startswith(folder.rstrip("/") + "/") for folder in folders)
