"""Setuid and setgid bits the workload left on the project's files, removed at writeback.

A command in the sandbox can `chmod u+s` a file it made (no capability is needed for
one's own file): the sandbox mounts the project `nosuid`, but the host does not, so a
copy of a shell left setuid would run as the harness's user (root, when harness runs as
root) for anyone on the machine who can reach the project folder. git never stores the
bits (a harness commit records 644, 755 or 120000); the disk keeps them until this runs,
once per session after its last command (a walk of the project: 65 ms for 20,000 files,
too much for every command). ``.git/`` and ``.harness/`` are not walked: they are
read-only in the sandboxes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from harness import walk

SETID = stat.S_ISUID | stat.S_ISGID


def strip_setid(root: Path) -> tuple[list[str], list[str]]:
    """Clear the setuid and setgid bits of every regular file under ``root`` (symlinks
    not followed); the paths changed, and those that could not be (with the reason).

    Fails closed: a folder the walk could not read is made private to its owner
    (``go-rwx``), so nobody else can reach a file in it, and named among the failures.
    """
    changed: list[str] = []
    failed: list[str] = []
    found = walk.Walk(root)
    for entry in found:
        if not entry.is_file:
            continue
        try:
            info = entry.stat()
        except OSError:
            continue  # gone since it was listed
        if info.st_mode & SETID:
            error = _clear(entry, info)
            if error is None:
                changed.append(entry.path)
            else:
                failed.append(f"{walk.shown(entry.path)} ({error})")
    for path, why, _ in found.unreadable:
        closed = _make_private(root, path)
        failed.append(f"{walk.shown(path)}, a folder harness could not look into ({why}{closed})")
    return sorted(changed), sorted(failed)


def _clear(entry: walk.Entry, info: os.stat_result) -> str | None:
    """Clear the bits of the very file the walk saw (opened without following a link and
    checked to be the same inode); None, or why it could not be done."""
    try:
        fd = os.open(entry.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=entry.dir_fd)
    except OSError as error:
        return error.strerror or type(error).__name__
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(now.st_mode):
            return "it was replaced while harness looked at it"
        # An O_PATH descriptor cannot be fchmod'ed; its /proc link reaches the inode itself.
        os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(now.st_mode) & ~SETID)
    except OSError as error:
        return error.strerror or type(error).__name__
    finally:
        os.close(fd)
    return None


def _make_private(root: Path, path: str) -> str:
    """``chmod go-rwx`` the folder at ``path`` (relative, any length), reached folder by
    folder without following links; what happened, said as a clause."""
    if path == ".":
        return ""
    parent, _, name = path.rpartition("/")
    try:
        fd = walk.open_folder(root, parent)
    except OSError as error:
        return f"; it could not be made private either: {error.strerror}"
    try:
        target = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        try:
            info = os.fstat(target)
            if not stat.S_ISDIR(info.st_mode):
                return ""
            os.chmod(f"/proc/self/fd/{target}", stat.S_IMODE(info.st_mode) & 0o700)
        finally:
            os.close(target)
    except OSError as error:
        return f"; it could not be made private either: {error.strerror}"
    finally:
        os.close(fd)
    return "; it was made private to its owner (chmod go-rwx)"


def setid_notes(root: Path) -> list[str]:
    """:func:`strip_setid`, said as progress notes (none when nothing had the bits)."""
    changed, failed = strip_setid(root)
    notes = []
    if changed:
        shown = ", ".join(walk.shown(path) for path in changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        notes.append(f"removed the setuid/setgid bit a command set on {shown}")
    if failed:
        notes.append(
            "could not remove the setuid/setgid bit of "
            + ", ".join(failed[:5])
            + "; remove it yourself (chmod u-s,g-s)"
        )
    return notes
