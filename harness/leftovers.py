"""What a killed process leaves behind, and when it may go: whose it is by pid.

:func:`pid_alive` is the one check of the rules that own a thing by a pid (these temp
files, the runners' leftovers, a fleet's live twin; ``runners.process`` re-exports it).

A kill between a temp file and its rename leaves the temp file. Every temp file harness
renames into place through :func:`temp_file` (``atomic_write``, the blob store, the
journal keys, a new SQLite journal, the journal's close stamp, a state file) is named
``.<name>.harness-<pid>-<random>.tmp``: ``<name>`` the file it becomes, ``harness-`` the
mark, ``<pid>`` its writer, ``<random>`` ``tempfile``'s 8 characters (a temp SQLite
database's side files add ``-wal``, ``-shm``, ``-journal``). :func:`sweep_temps` removes
a regular file of exactly that shape once its writer is gone (a live writer's may be
mid-write: it stays). No other name is touched: a user's own ``.progress.md.original.tmp``,
or a file named like an older harness's unmarked temp files (``.<name>.<random>.tmp``,
``.<name>.<pid>-<random>.tmp``), stays; such leftovers of older versions are the user's
to delete.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

MARK = "harness"
# A temp SQLite database has its side files beside it: `<temp>-wal`, `-shm`, `-journal`.
_TEMP = re.compile(
    rf"\.(?P<name>.+)\.{MARK}-(?P<pid>[1-9][0-9]*)-[a-z0-9_]{{8}}\.tmp(?:-wal|-shm|-journal)?"
)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or a number no pid can be
        return False
    except PermissionError:
        return True
    return True


def is_temp(path: str) -> bool:
    """Whether the last name of ``path`` (``/``-separated) is a temp file of harness's
    naming, a writer's mid-write or a killed one's: never the agent's or the user's work."""
    return _TEMP.fullmatch(path.rsplit("/", 1)[-1]) is not None


def temp_file(folder: Path, name: str) -> tuple[int, Path]:
    """A new temp file (mode 0600) in ``folder`` for what becomes ``name``: (fd, path)."""
    prefix = f".{name}.{MARK}-{os.getpid()}-"
    fd, path = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    return fd, Path(path)


def sweep_temps(folder: Path, name: str | None = None) -> int:
    """Remove the temp files of harness in ``folder`` whose writer is gone (only those for
    ``name`` when given); how many were removed. A folder that cannot be read is left: a
    later write sweeps it again."""
    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            found = _TEMP.fullmatch(entry.name)
            if found is None or (name is not None and found["name"] != name):
                continue
            if pid_alive(int(found["pid"])) or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed
