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
import errno
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import RunnerError
from harness.secret_files import matches
from harness.walk import Entry, Unread, Walk, remove_tree, shown

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
    """The hidden paths that exist under ``root`` (not in ``.git``/``.harness``), in the
    order found; a hidden folder's contents are not listed. A link named like a secret
    stands for its target when that is in the project (the target is hidden instead).

    The walk is fd-relative and follows no link (:class:`harness.walk.Walk`), and it fails
    closed: a folder it may not read is hidden whole (the workload could open it up and
    read what is inside); a path too long to mount is hidden by its deepest folder that
    can be (:func:`mountable`); a folder swapped or replaced while it was walked makes it
    walk again, and :class:`RunnerError` when it keeps changing (no command runs with a
    secret the walk may have missed).
    """
    patterns = list(patterns)
    root = root.resolve()
    changed: list[Unread] = []
    for _ in range(SCANS):
        found, changed = _scan(root, patterns)
        if not changed:
            return _outermost([mountable(root, path) for path in found])
    where = ", ".join(f"{shown(u.path)} ({u.reason})" for u in changed[:3])
    raise RunnerError(
        f"cannot tell which files of {root} are secret: in each of {SCANS} walks, {where}; "
        "no command runs while a secret may be where the walk could not see.",
        kind="sandbox",
        suggestion="Stop what is changing the project (a process left running?), then "
        "`harness run` goes on from the same step.",
    )


SCANS = 3
"""Walks of the project before a tree that keeps changing under it is an error."""
MOUNT_PATH_MAX = 4000
"""Longest host path (bytes) given to a mount: the kernel's PATH_MAX is 4,096."""


def _scan(root: Path, patterns: list[str]) -> tuple[list[str], list[Unread]]:
    """(secret paths found, folders that changed under the walk)."""

    def secret(relative: str) -> bool:
        return matches(relative, relative.rpartition("/")[2], patterns)

    walk = Walk(
        root,
        descend=lambda relative: not secret(relative),
        folders=True,
        ordered=True,
        stamped=True,
    )
    found: list[str] = []
    for entry in walk:
        if not secret(entry.path):
            continue
        target = _link_target(root, entry) if entry.is_link else entry.path
        if target is not None and target not in found:
            found.append(target)
    changed: list[Unread] = []
    for unread in walk.unreadable:
        if unread.path == ".":
            changed.append(unread)  # the project itself could not be read
        elif unread.errno in (errno.EACCES, errno.EPERM):
            found.append(unread.path)  # not readable here: covered, never opened up
        else:
            changed.append(unread)  # ELOOP/ENOTDIR (swapped for a link) or replaced
    changed += [Unread(path, "moved or removed while it was walked") for path in walk.vanished]
    # Every folder, not only the top: a secret moved from a folder not walked yet into one
    # the walk had passed was seen in neither.
    changed += [Unread(path or ".", "changed while it was walked") for path in walk.changed()]
    return found, changed


def mountable(root: Path, relative: str) -> str:
    """``relative``, or its deepest folder whose host path is short enough to mount."""
    base = len(os.fsencode(str(root))) + 1
    parts = relative.split("/")
    while len(parts) > 1 and base + len(os.fsencode("/".join(parts))) >= MOUNT_PATH_MAX:
        parts.pop()
    return "/".join(parts)


def _outermost(paths: list[str]) -> list[str]:
    """``paths`` without repeats and without those inside another (a covered folder is
    empty: nothing can be mounted inside it)."""
    kept: list[str] = []
    for path in paths:
        if path not in kept and not _under_any(path, paths):
            kept.append(path)
    return kept


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


def _link_target(root: Path, entry: Entry) -> str | None:
    """The project path a link resolves to (None: outside the project, or nowhere). The
    link's folder was reached without following links, so its text read through that
    folder's descriptor and resolved from the folder's path is where it leads."""
    try:
        text = os.readlink(entry.name, dir_fd=entry.dir_fd)
    except OSError:
        return None  # gone since it was listed
    folder = root / entry.path.rpartition("/")[0]
    joined = folder / text
    if len(os.fsencode(str(joined))) < MOUNT_PATH_MAX:
        target = joined.resolve()
    else:  # too long for the kernel to follow: the link's own text, made absolute
        target = Path(posixpath.normpath(str(joined)))
    if len(os.fsencode(str(target))) < MOUNT_PATH_MAX and not target.exists():
        return None  # leads nowhere (a target too long to look at counts as there)
    if not target.is_relative_to(root) or target == root:
        return None
    inside = target.relative_to(root).as_posix()
    return None if inside.split("/")[0] in HARNESS_OWN else inside


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
