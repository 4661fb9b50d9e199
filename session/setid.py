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
    not followed); the paths changed, and those that could not be (with the reason)."""
    changed: list[str] = []
    failed: list[str] = []
    for entry in walk.entries(root):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mode & SETID:
            relative = os.path.relpath(entry.path, root)
            try:
                os.chmod(entry.path, stat.S_IMODE(info.st_mode) & ~SETID)
                changed.append(relative)
            except OSError as error:
                failed.append(f"{relative} ({error.strerror})")
    return sorted(changed), sorted(failed)


def setid_notes(root: Path) -> list[str]:
    """:func:`strip_setid`, said as progress notes (none when nothing had the bits)."""
    changed, failed = strip_setid(root)
    notes = []
    if changed:
        shown = ", ".join(changed[:5]) + (
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
