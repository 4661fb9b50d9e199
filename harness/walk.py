"""The one walk of a project's work tree, for every check that must see every file.

The disk budget (runners.disk), the FIFOs that would block git (artifacts.git_safety),
the setuid bits a workload left (session.setid) and the file tools' globs
(session.tools.search) each look at the entries of the project except the harness's own
``.git/`` and ``.harness/``. :class:`Walk` yields them.

A workload shapes the tree, so the walk holds against any shape:
- **fd-relative**: every folder is opened relative to its parent's descriptor
  (``openat`` with ``O_NOFOLLOW | O_DIRECTORY``), never by its path, so a folder deeper
  than ``PATH_MAX`` (4,096 bytes) is walked like any other, and a symlink is never
  followed (not even one swapped in for a folder mid-walk);
- **iterative**: a stack, not recursion, so a 100,000-deep tree is no RecursionError;
  at most :data:`OPEN_FOLDERS` descriptors are held, whatever the depth: a folder whose
  descriptor was let go is opened again from its nearest open ancestor, by name, and
  must be the same folder (device and inode) or it counts as unreadable;
- **failing closed**: what it cannot read (a folder it may not open, one that changed
  under it) is in :attr:`Walk.unreadable` with the reason, never skipped in silence:
  each caller decides what an incomplete walk means for it.

An :class:`Entry` is valid while the walk stands on its folder (until the next entry):
act on it through its ``dir_fd`` and ``name`` (``os.stat(name, dir_fd=...)``), never by
a path string, which may be longer than the kernel accepts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

HARNESS_OWN = frozenset({".git", ".harness"})
OPEN_FOLDERS = 64
"""Most folder descriptors one walk holds at once (the process may have 1,024)."""
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class Entry(NamedTuple):
    """One entry of the tree that is not a folder walked into (a file, a link, a FIFO...;
    folders too when the walk was asked for them)."""

    dir_fd: int
    """The open folder holding it (valid until the walk moves on)."""
    name: str
    path: str
    """Relative to the root, ``/``-separated; may be longer than ``PATH_MAX``."""
    kind: int
    """``stat.S_IFMT`` of the entry itself (links not followed; 0 when unknown)."""

    def stat(self) -> os.stat_result:
        """The entry's own ``lstat``, made relative to its folder."""
        return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)

    @property
    def is_file(self) -> bool:
        return self.kind == stat.S_IFREG

    @property
    def is_link(self) -> bool:
        return self.kind == stat.S_IFLNK

    @property
    def is_folder(self) -> bool:
        return self.kind == stat.S_IFDIR


class Unread(NamedTuple):
    """A folder the walk could not read."""

    path: str
    reason: str
    errno: int = 0
    """The OS error number (``errno.EACCES``...), 0 when the folder changed under it."""


@dataclass
class _Folder:
    path: str
    name: str
    ident: tuple[int, int]
    fd: int | None
    pending: list[str] | None = None  # subfolders not walked yet; None: not listed yet


@dataclass
class Walk:
    """Iterate over the entries under ``root``; afterwards, :attr:`unreadable` and
    :attr:`stopped` say whether the walk saw everything.

    Args:
        root: the project (opened as given; everything below it without following links),
            or an open folder descriptor (:func:`open_folder`; the walk uses a copy).
        descend: ``(relative path) -> bool``: whether to walk into a folder (default: all).
        folders: yield the folders too (before walking into them).
        skip_own: leave out ``.git`` and ``.harness`` at the root (the harness's own).
        limit: most entries to yield before stopping (``stopped`` says so).
        deadline: a ``time.monotonic()`` value past which the walk stops.
        leave: ``(parent folder's descriptor, name)``, called once a folder's entries
            and subfolders are all done (after its last entry: :func:`remove_tree`).
        ordered: each folder's entries in name order (held in memory a folder at a time),
            so the walk's order is reproducible; else as the file system lists them.
        stamped: note each folder's stamp as it is listed, so :meth:`changed` can tell
            afterwards which folders changed since (an entry moved into a folder the walk
            had passed is one the walk did not see).
    """

    root: Path | str | int
    descend: Callable[[str], bool] | None = None
    folders: bool = False
    skip_own: bool = True
    limit: int | None = None
    deadline: float | None = None
    leave: Callable[[int, str], None] | None = None
    ordered: bool = False
    stamped: bool = False
    unreadable: list[Unread] = field(default_factory=list)
    """Every folder the walk could not read, with the reason."""
    vanished: list[str] = field(default_factory=list)
    """Folders listed but gone when the walk came to open them (moved or removed)."""
    stopped: str = ""
    """Why the walk ended early (the limit or the deadline); empty when it did not."""
    seen: int = 0
    """Entries yielded."""
    stamps: dict[str, Stamp] = field(default_factory=dict)
    """With ``stamped``: each folder listed, as it was just before its listing."""

    @property
    def complete(self) -> bool:
        return not self.unreadable and not self.stopped

    def __iter__(self) -> Iterator[Entry]:
        try:
            if isinstance(self.root, int):
                fd = os.dup(self.root)
            else:
                fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            self.unreadable.append(_unread(".", error))
            return
        stack = [_Folder("", "", _ident(fd), fd)]
        try:
            while stack and not self._stop():
                folder = stack[-1]
                if folder.pending is None:
                    yield from self._list(stack, folder)
                elif folder.pending:
                    child = self._enter(stack, folder.pending.pop())
                    if child is not None:
                        stack.append(child)
                        _let_go(stack)
                else:
                    done = stack.pop()
                    _close(done)
                    if self.leave is not None and stack:
                        parent = self._fd(stack)
                        if parent is not None:
                            self.leave(parent, done.name)
        finally:
            for folder in stack:
                _close(folder)

    # -- internals -----------------------------------------------------------------------
    def _list(self, stack: list[_Folder], folder: _Folder) -> Iterator[Entry]:
        """Yield the folder's entries (in name order when ``ordered``; else as the file
        system lists them, so a folder of ten million is never held in memory) and note
        its subfolders to walk. One generator per folder: this loop is the walk's cost."""
        pending: list[str] = []
        folder.pending = pending
        fd = self._fd(stack)
        if fd is None:
            return
        at_root = len(stack) == 1 and self.skip_own
        prefix = f"{folder.path}/" if folder.path else ""
        bounded = self.limit is not None or self.deadline is not None
        try:
            if self.stamped:  # before the listing: a change during it shows as a change
                self.stamps[folder.path] = stamp(os.fstat(fd))
            with os.scandir(fd) as listing:
                items = sorted(listing, key=_name) if self.ordered else listing
                for item in items:
                    name = item.name
                    kind = stat.S_IFREG if item.is_file(follow_symlinks=False) else _kind(item, fd)
                    if kind == stat.S_IFDIR:
                        if at_root and name in HARNESS_OWN:
                            continue
                        if self.descend is None or self.descend(prefix + name):
                            pending.append(name)
                        if not self.folders:
                            continue
                    if bounded and self._stop():
                        return
                    self.seen += 1
                    yield Entry(fd, name, prefix + name, kind)
        except OSError as error:
            self.unreadable.append(_unread(folder.path or ".", error))
        pending.reverse()  # popped from the end: walked in listing order

    def changed(self) -> list[str]:
        """The folders listed (``stamped``) that are no longer as they were when listed:
        an entry added, removed or renamed in them, or the folder itself replaced or
        gone. Each is looked at again from the root, fd-relative past ``PATH_MAX``.

        A change is seen by the folder's change time: on a kernel without fine-grained
        timestamps (before Linux 6.13) one made within the same clock tick as the stamp
        (a few milliseconds) can keep it; its size and link count still tell on tmpfs."""
        try:
            if isinstance(self.root, int):
                top = os.dup(self.root)
            else:
                top = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return list(self.stamps)
        try:
            return [path for path, was in self.stamps.items() if _stamp_at(top, path) != was]
        finally:
            os.close(top)

    def _stop(self) -> bool:
        if self.stopped:
            return True
        if self.limit is not None and self.seen >= self.limit:
            self.stopped = f"stopped after {self.seen:,} entries"
        elif self.deadline is not None and time.monotonic() > self.deadline:
            self.stopped = f"stopped at its time limit after {self.seen:,} entries"
        return bool(self.stopped)

    def _enter(self, stack: list[_Folder], name: str) -> _Folder | None:
        parent = stack[-1]
        path = f"{parent.path}/{name}" if parent.path else name
        fd = self._fd(stack)
        if fd is None:
            return None
        try:
            child = os.open(name, FOLDER_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            self.vanished.append(path)
            return None  # removed since it was listed: nothing there to see
        except OSError as error:
            # ELOOP/ENOTDIR: swapped for a link or a file since it was listed (a link is
            # never followed; the new entry is not this folder). Else it cannot be read.
            self.unreadable.append(_unread(path, error))
            return None
        return _Folder(path, name, _ident(child), child)

    def _fd(self, stack: list[_Folder]) -> int | None:
        """The descriptor of the folder on top of ``stack``, opened again from its nearest
        open ancestor if it was let go (None, and unreadable, when that is no longer the
        same folder: a workload renamed or replaced it meanwhile)."""
        top = stack[-1]
        if top.fd is not None:
            return top.fd
        base = max(i for i, folder in enumerate(stack) if folder.fd is not None)
        fd = stack[base].fd
        assert fd is not None
        why = ""
        for folder in stack[base + 1 :]:
            try:
                fd = os.open(folder.name, FOLDER_FLAGS, dir_fd=fd)
            except OSError as error:
                why = _reason(error)
                break
            folder.fd = fd  # kept (within OPEN_FOLDERS): the walk comes back up this way
            if _ident(fd) != folder.ident:
                why = "it was replaced while the walk was in it"
                break
        if why:
            for folder in stack[base + 1 :]:
                _close(folder)
            top.pending = []
            self.unreadable.append(Unread(top.path, f"changed during the walk: {why}"))
            return None
        _let_go(stack)
        return top.fd


def _let_go(stack: list[_Folder]) -> None:
    """Close the shallowest open folders past OPEN_FOLDERS (never the root or the top:
    the root is where every folder is found again, the top is the one being read)."""
    between = [f for f in stack[1:-1] if f.fd is not None]
    for folder in between[: max(0, len(between) + 2 - OPEN_FOLDERS)]:
        _close(folder)


Stamp = tuple[int, int, int, int, int, int]
"""A folder's device, inode, mtime, ctime (ns), size and link count."""
_AT_ONCE = 3000
"""Longest path (bytes) given to one ``stat``: the kernel refuses 4,096 and more."""


def stamp(info: os.stat_result) -> Stamp:
    return (
        info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns, info.st_size,
        info.st_nlink,
    )  # fmt: skip


def _stamp_at(top: int, path: str) -> Stamp | None:
    """The stamp of the folder ``path`` below the folder ``top`` (None: gone or not a
    folder), reached a few thousand bytes of path at a time."""
    if not path:
        parts = []
    elif len(os.fsencode(path)) < _AT_ONCE:
        parts = [path]  # most paths: one open, no name measured alone
    else:
        parts = path.split("/")
    fd = os.dup(top)
    try:
        start = 0
        while start < len(parts):
            # Each name measured once (a chunk measured whole at each name it grew by was
            # cubic in the depth: 20 s for the folders of a 1,100-deep tree).
            end, size = start, -1  # size: bytes of parts[start:end] joined by "/"
            while end < len(parts):
                grown = size + 1 + len(os.fsencode(parts[end]))
                if grown >= _AT_ONCE:
                    break
                end, size = end + 1, grown
            if end == start:  # one name longer than that: the kernel refuses it anyway
                return None
            inner = os.open("/".join(parts[start:end]), FOLDER_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
            start = end
        return stamp(os.fstat(fd))
    except OSError:
        return None
    finally:
        os.close(fd)


def _close(folder: _Folder) -> None:
    if folder.fd is not None:
        os.close(folder.fd)
        folder.fd = None


def _ident(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _name(item: os.DirEntry[str]) -> str:
    return item.name


def _kind(item: os.DirEntry[str], fd: int) -> int:
    """The entry's type from the directory listing (d_type), or an lstat relative to the
    folder where the file system does not give it."""
    try:
        if item.is_file(follow_symlinks=False):
            return stat.S_IFREG
        if item.is_dir(follow_symlinks=False):
            return stat.S_IFDIR
        if item.is_symlink():
            return stat.S_IFLNK
        return stat.S_IFMT(os.stat(item.name, dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        return 0  # gone since it was listed


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _unread(path: str, error: OSError) -> Unread:
    return Unread(path, _reason(error), error.errno or 0)


def open_folder(root: Path | str, relative: str) -> int:
    """A descriptor of the folder ``relative`` below ``root``, opened one name at a time
    without following a link (OSError when a part is missing, a link or not a folder):
    a path the harness acts in is never redirected out of the project by a planted link."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in [part for part in relative.split("/") if part not in ("", ".")]:
            inner = os.open(name, FOLDER_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_tree(path: Path | str) -> list[Unread]:
    """Remove the folder ``path`` and everything in it, fd-relative and iterative: a tree
    100,000 levels deep or past ``PATH_MAX`` goes like any other (``shutil.rmtree``
    recurses: a checkout of a 1,100-deep tree stayed behind, and every later sweep of
    leftover checkouts raised RecursionError). No link is followed. What could not be
    removed, with the reason (empty: all gone)."""
    problems: list[Unread] = []

    def rmdir(parent: int, name: str) -> None:
        try:
            os.rmdir(name, dir_fd=parent)
        except FileNotFoundError:
            pass
        except OSError as error:
            problems.append(_unread(name, error))

    try:
        top = os.open(path, FOLDER_FLAGS)  # a link (or a file) there is not walked
    except FileNotFoundError:
        return []
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.ENOTDIR):
            return [_unread(".", error)]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return []
    try:
        found = Walk(top, skip_own=False, leave=rmdir)
        for entry in found:
            try:
                os.unlink(entry.name, dir_fd=entry.dir_fd)
            except FileNotFoundError:
                pass
            except OSError as error:
                problems.append(_unread(entry.path, error))
    finally:
        os.close(top)
    problems.extend(u for u in found.unreadable if u.errno != errno.ENOENT)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        problems.append(_unread(".", error))
    return problems


def shown(path: str, keep: int = 120) -> str:
    """A path that may be thousands of characters long, cut in the middle for a message."""
    if len(path) <= keep:
        return path
    return f"{path[: keep // 2]}...({len(path):,} chars)...{path[-keep // 2 :]}"


def entries(root: Path | str) -> Iterator[Entry]:
    """Every entry of :class:`Walk` over ``root`` (for callers that only read; those that
    must fail closed keep the :class:`Walk` to read its ``unreadable``)."""
    return iter(Walk(root))
