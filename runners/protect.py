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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.secret_files import matches
from harness.walk import remove_tree

HARNESS_STATE = (".git", ".harness", "feature_list.json")
HARNESS_OWN = (".git", ".harness")


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


def shallowest(
    root: Path, chosen: Callable[[str, os.DirEntry[str]], bool], skip: Iterable[str] = ()
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative path, entry) of the entries under ``root`` that ``chosen`` picks, in
    breadth order; a chosen folder is not descended into, nor is a link or a top-level
    name in ``skip``. A folder that cannot be read is passed over."""
    skipped = set(skip)
    pending = [""]
    while pending:
        folder = pending.pop(0)
        try:
            listing = sorted(os.scandir(root / folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in listing:
            relative = f"{folder}/{entry.name}" if folder else entry.name
            if not folder and entry.name in skipped:
                continue
            if chosen(relative, entry):
                yield relative, entry
            else:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(relative)


def find_hidden(root: Path, patterns: Iterable[str] = ()) -> list[str]:
    """The hidden paths that exist under ``root`` (not in ``.git``/``.harness``), shallowest
    first; a hidden folder's contents are not listed. A link named like a secret stands
    for its target when that is in the project (the target is hidden instead)."""
    patterns = list(patterns)
    root = root.resolve()
    found: list[str] = []
    picked = shallowest(
        root, lambda relative, entry: matches(relative, entry.name, patterns), HARNESS_OWN
    )
    for relative, entry in picked:
        target = _link_target(root, entry.path) if entry.is_symlink() else relative
        if target is not None and target not in found:
            found.append(target)
    return found


def guarded(
    root: Path, hide: Iterable[str], declared_hidden: list[str], declared_protected: list[str]
) -> tuple[list[str], list[str]]:
    """(hidden, protected) of a sandbox runner now: the declared hidden paths (``[verify]
    hidden``) and the files declared secret found now (``.env``, ``[protect] hide``); every
    hidden path is also protected: one that does not exist yet is guarded like a protected
    one (a command that creates it has it removed)."""
    found = find_hidden(root, hide)
    hidden = [*declared_hidden, *(p for p in found if p not in declared_hidden)]
    return hidden, normalize([*declared_protected, *hidden])


def _link_target(root: Path, path: str) -> str | None:
    """The project path a link resolves to (None: outside the project, or nowhere)."""
    target = Path(path).resolve()
    if not target.exists() or not target.is_relative_to(root) or target == root:
        return None
    inside = target.relative_to(root).as_posix()
    return None if inside.split("/")[0] in (".git", ".harness") else inside


def own_tree(tree: Path, user: str | int | tuple[int, int]) -> None:
    """Give ``tree`` (a checkout the harness made) to the user its workload runs as, so
    the workload can write in it: ``"uid:gid"`` numbers, or ``(uid, gid)``. Only root can
    give files away; for anyone else (whose workloads run as themselves) nothing changes."""
    if os.geteuid() != 0:
        return
    if isinstance(user, tuple):
        uid, gid = user
    else:
        text, _, group = str(user).partition(":")
        if not text.isdigit() or not (group or text).isdigit():
            return  # a name: the image knows it, the host may not
        uid, gid = int(text), int(group or text)
    for folder, folders, files in os.walk(tree):
        os.lchown(folder, uid, gid)
        for name in [*folders, *files]:
            if not os.path.isdir(os.path.join(folder, name)) or os.path.islink(
                os.path.join(folder, name)
            ):
                os.lchown(os.path.join(folder, name), uid, gid)
