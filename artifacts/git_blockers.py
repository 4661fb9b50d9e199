"""Files in the work tree that git opens and would wait on forever: found and removed.

git opens some files of the work tree itself: ``.gitignore`` and ``.gitattributes`` in
every folder, ``.mailmap`` and ``.gitmodules`` at the top (``.gitmodules`` whenever the
index holds a nested repository, ``.mailmap`` for mapped author names), and the metadata of
every nested repository it meets (``sub/.git/HEAD``, ``commondir``; a ``sub/.git`` file
points at such a folder with ``gitdir:``, anywhere in the tree). A FIFO there blocks
``git status`` on ``open()``, in this run and every later one; a command makes one
without any capability. Before each git command that reads the work tree, every such
file that is not a regular file, or a link to something that is not one, is removed.

One fd-relative walk (:class:`harness.walk.Walk`), a ``stat`` only for the rare link in
one of those places; a tree the walk could not read whole (one changing under it) is a
GitError before git runs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Collection
from pathlib import Path, PurePosixPath

from harness import walk
from harness.errors import GitError

WORK_TREE_READERS = frozenset(
    {
        "status",
        "ls-files",
        "diff",
        "add",
        "apply",
        "check-ignore",
        "reset",
        "read-tree",
        "checkout-index",
    }
)
"""Subcommands harness runs that read the work tree's own files."""
RULE_FILES = frozenset({".gitignore", ".gitattributes"})
"""Read by git in every folder of the work tree."""
TOP_FILES = frozenset({".mailmap", ".gitmodules"})
"""Read by git at the top of the work tree."""
_POINTERS = frozenset({".git", "commondir", "gitdir"})
"""Files whose text names another repository folder git goes on to read."""
_HOPS = 8


def clear_blockers(
    root: Path,
    *,
    skip: Collection[str] = (),
    rules: dict[str, str] | None = None,
) -> list[str]:
    """Remove the files git would block on (see the module docstring); their paths,
    relative to ``root``.

    Args:
        skip: folders (paths from ``root``) not walked into: the caller knows git does not
            read in them (``artifacts.git_sweep``: ignored folders with nothing tracked).
        rules: filled with each ``.gitignore`` walked past (its path: a digest of what it
            holds), for a caller that must know whether they changed.

    Fails closed: a folder the walk could not read for any reason but a denied permission
    (one that changed under it) is a GitError, before git runs. A folder harness may not
    open is one git, running as the same user, cannot open either."""
    root = Path(root)
    later: list[str] = []  # non-regular entries git reads only if a nested .git points there
    pointers: list[tuple[str, str]] = []  # (a pointer file's path from root, what it names)
    removed: list[str] = []
    found = walk.Walk(root, descend=(lambda path: path not in skip) if skip else None)
    for entry in found:
        if entry.name == ".gitignore" and rules is not None:
            rules[entry.path] = content_digest(entry.name, entry.dir_fd)
        if entry.is_file:
            if entry.name in _POINTERS and (entry.name == ".git" or _in_nested_git(entry.path)):
                target = _pointed_at(entry.name, entry.dir_fd)
                if target is not None:
                    pointers.append((entry.path, target))
        elif not entry.kind:
            continue  # gone between the listing and its stat
        elif _read_by_git(entry.path, []):
            if _blocks(entry.name, entry.dir_fd, entry.is_link):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.name, dir_fd=entry.dir_fd)
                removed.append(walk.shown(entry.path))
        else:
            later.append(entry.path)
    unsure = [item for item in found.unreadable if item.errno not in (errno.EACCES, errno.EPERM)]
    if unsure:
        named = "; ".join(f"{walk.shown(path)} ({why})" for path, why, _ in unsure[:3])
        raise GitError(
            f"harness could not check {named} in {root} for files that would block git, so "
            "git was not run there; a process is changing the tree: stop it, then run again"
        )
    if skip and pointers:
        metadata = _metadata_folders(root, pointers)
        if any(folder.is_relative_to(left) for folder in metadata for left in skip):
            # a nested repository's metadata in a folder left out: git reads there
            return removed + clear_blockers(root, rules=rules)
    if later and pointers:
        metadata = _metadata_folders(root, pointers)
        for relative in later:
            path = str(root / relative)
            if _read_by_git(relative, metadata) and _blocks(path, None, os.path.islink(path)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                removed.append(walk.shown(relative))
    return removed


def content_digest(name: str, dir_fd: int | None = None) -> str:
    """What a file git reads holds (a ``.gitignore``, a config), as a digest (a link:
    where it leads and that file's stamp; anything but a regular file or a link: its kind;
    absent or unreadable: the error), read without blocking."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            target = os.stat(name, dir_fd=dir_fd)  # never opened: it may be a FIFO
            link = os.readlink(name, dir_fd=dir_fd)
            return f"link {link} {target.st_mode} {target.st_ino} {target.st_ctime_ns}"
        if not stat.S_ISREG(info.st_mode):
            return f"kind {stat.S_IFMT(info.st_mode)}"
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as error:
        return f"unreadable {error.errno}"
    try:
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 16):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError as error:
        return f"unreadable {error.errno}"
    finally:
        os.close(fd)


def _in_nested_git(relative: str) -> bool:
    """Whether ``relative`` lies inside a nested repository's ``.git`` folder."""
    return ".git" in PurePosixPath(relative).parts[:-1]


def _read_by_git(relative: str, metadata: list[PurePosixPath]) -> bool:
    path = PurePosixPath(relative)
    if path.name in RULE_FILES or relative in TOP_FILES or _in_nested_git(relative):
        return True
    return any(path.is_relative_to(folder) for folder in metadata)


def _blocks(name: str, dir_fd: int | None, link: bool) -> bool:
    """Not a regular file (a FIFO, socket, device), or a link to one: ``open()`` of a FIFO
    waits for a writer. A link to a folder, a file or nothing blocks nothing."""
    try:
        mode = os.stat(name, dir_fd=dir_fd).st_mode  # follows a link; never opens
    except OSError:
        return not link  # gone, or unreadable: only a non-link blocks
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _metadata_folders(root: Path, pointers: list[tuple[str, str]]) -> list[PurePosixPath]:
    """The folders inside the project that a nested ``.git`` file, or a ``commondir`` /
    ``gitdir`` file of a nested repository, sends git to (followed a few hops)."""
    resolved_root = root.resolve()
    found: list[PurePosixPath] = []
    pending = [(str(root / relative), target) for relative, target in pointers]
    for _ in range(_HOPS):
        following: list[tuple[str, str]] = []
        for path, target in pending:
            absolute = (Path(path).parent / target).resolve()
            if not absolute.is_relative_to(resolved_root):
                continue
            inside = PurePosixPath(absolute.relative_to(resolved_root).as_posix())
            if inside.parts[:1] in ((".git",), (".harness",)) or inside in found:
                continue
            found.append(inside)
            for name in ("commondir", "gitdir"):
                onward = _pointed(str(absolute / name))
                if onward is not None:
                    following.append((str(absolute / name), onward))
        if not following:
            break
        pending = following
    return found


def _pointed(path: str) -> str | None:
    """The folder a ``.git`` file (``gitdir: X``), ``commondir`` or ``gitdir`` file names."""
    return _pointed_at(path, None)


def _pointed_at(name: str, dir_fd: int | None) -> str | None:
    """:func:`_pointed` of ``name`` in the open folder ``dir_fd`` (a regular file only)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    text = text.removeprefix("gitdir:").strip()
    return text.splitlines()[0] if text else None
