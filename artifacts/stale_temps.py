"""The temp files a killed :func:`artifacts.io.atomic_write` left, and when one may go.

A kill between the temp file and the rename leaves it beside the file, where it shows in
the user's `git status`. Two namings exist:

- ``.<name>.<pid>-<random>.tmp`` (since a6bf268): removed once process ``pid`` is gone.
- ``.<name>.<random>.tmp`` (older harness, no pid, ``tempfile``'s 8 characters): no
  owner is named, so it is removed only when no writer can own it: it belongs to this
  user, nothing was written to it for ``OLD_NAMING_IDLE_S``, and no process of this user
  has it open (read from /proc; where that cannot be read, it is left). A writer holds
  its temp file open from creation to the last write and renames it at once after, so an
  idle, closed one is a leftover.

Only these exact names are touched; any other file is left.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

OLD_NAMING_IDLE_S = 600.0
_RANDOM = re.compile(r"[a-z0-9_]{8}")


def sweep_temps(folder: Path, name: str) -> None:
    """Remove the temp files of ``name`` in ``folder`` that no live writer owns."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            head, _, rest = entry.name.partition(f".{name}.")
            if head or not rest.endswith(".tmp"):
                continue
            middle = rest[: -len(".tmp")]
            pid, dash, _ = middle.partition("-")
            if dash and pid.isdigit():
                stale = not _alive(int(pid))
            elif _RANDOM.fullmatch(middle):
                stale = _unowned(Path(entry.path))
            else:
                continue
            if stale:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _unowned(path: Path) -> bool:
    """An old-naming temp file no writer can own: ours, idle, open in no process of ours."""
    try:
        info = path.lstat()
    except OSError:
        return False
    if info.st_uid != os.geteuid() or time.time() - info.st_mtime < OLD_NAMING_IDLE_S:
        return False
    return _open_nowhere(info, path.name)


def _open_nowhere(info: os.stat_result, name: str) -> bool:
    """Whether no process of this user holds the file open (False where /proc cannot
    tell: no /proc, or a process of ours whose descriptors cannot be listed)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return False
    me = os.geteuid()
    for pid in pids:
        fds = f"/proc/{pid}/fd"
        try:
            if os.stat(f"/proc/{pid}").st_uid != me:
                continue
            descriptors = os.listdir(fds)
        except FileNotFoundError:
            continue  # it ended
        except OSError:
            return False
        for fd in descriptors:
            try:
                if not os.readlink(f"{fds}/{fd}").endswith(name):
                    continue
                held = os.stat(f"{fds}/{fd}")
            except OSError:
                continue  # closed meanwhile
            if (held.st_dev, held.st_ino) == (info.st_dev, info.st_ino):
                return False
    return True
