"""The disk a workload may fill: a per-file size limit and a checked workspace budget.

The per-file limit is ``RLIMIT_FSIZE`` (local and bubblewrap runners) or the engine's
``fsize`` ulimit (Docker): a write or ``truncate`` past it fails with SIGXFSZ/EFBIG, so a
50 GB sparse file cannot even be created. The workspace budget (``disk_mb``) bounds the
space the project's files take on disk (allocated blocks: a sparse file counts what it
really uses; the writeback's own size limits, from ``lstat``, keep big files out of git);
the harness's own ``.git`` and ``.harness`` are not the workload's.

Counting stats every file: about 100 ms for 20,000 files (a project with its ``.venv``
or ``node_modules``), far more than the sandbox itself. :class:`DiskBudget` counts only
when it could matter: while the file system holding the project has lost less free space
since the last count than the budget has left, the workspace cannot be over it. The
workload cannot game that: it can free space on that file system only by deleting its
own workspace files (the sandboxes mount nothing else of it writable), which shrinks the
workspace too. Space other programs free meanwhile can hide the workload's growth from
the shortcut, so a full count also runs every ``RECOUNT_EVERY`` checks.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness import walk
from harness.walk import Unread
from runners import classify
from runners.base import Failure

MB = 1024 * 1024
RECOUNT_EVERY = 25  # checks between full counts, whatever the file system says


def workspace_bytes(root: Path, *, stop_above: int | None = None) -> int:
    """Bytes on disk of the files and folders under ``root`` (symlinks not followed; a
    folder's own blocks count: a million empty folders take 4 GB), maybe cut short.

    Raises:
        Unmeasured: a folder could not be read, so the count would be too low.
    """
    total = 0
    found = walk.Walk(root, folders=True)
    for entry in found:
        try:
            total += entry.stat().st_blocks * 512
        except OSError:
            continue  # gone since it was listed
        if stop_above is not None and total > stop_above:
            return total
    if found.unreadable:
        raise Unmeasured(found.unreadable)
    return total


class Unmeasured(Exception):
    """Folders the count could not read: (path, reason) pairs."""

    def __init__(self, unreadable: list[Unread]) -> None:
        self.unreadable = unreadable
        super().__init__(", ".join(f"{path} ({why})" for path, why, _ in unreadable[:3]))


def _free_bytes(root: Path) -> int | None:
    try:
        stats = os.statvfs(root)
    except OSError:
        return None
    return stats.f_bfree * stats.f_frsize


class DiskBudget:
    """``disk_mb`` for one project: :meth:`check` after each command."""

    def __init__(self, root: Path, disk_mb: int | None) -> None:
        self.root = root
        self.disk_mb = disk_mb
        self.counts = 0  # full counts made (for the tests and the benchmark)
        self._used: int | None = None  # at the last count
        self._free: int | None = None  # the file system's free bytes at the last count
        self._since = 0  # checks since the last count

    def check(self) -> Failure | None:
        """A ``disk`` failure when the workspace holds more than ``disk_mb`` MiB."""
        if self.disk_mb is None:
            return None
        limit = self.disk_mb * MB
        free = _free_bytes(self.root)
        self._since += 1
        if (
            self._used is not None
            and self._free is not None
            and free is not None
            and self._since < RECOUNT_EVERY
            and self._used + max(0, self._free - free) <= limit
        ):
            return None  # the file system lost less than the budget has left
        try:
            used = workspace_bytes(self.root, stop_above=limit)
        except Unmeasured as error:  # fails closed: what it cannot see may be over
            self._used = self._free = None
            return classify.disk_unmeasured(self.disk_mb, error.unreadable)
        self.counts += 1
        self._since = 0
        if used > limit:
            self._used = self._free = None  # over: count again after the next command
            return classify.disk_budget(self.disk_mb, used / MB)
        self._used, self._free = used, free
        return None


def over_budget(root: Path, disk_mb: int | None) -> Failure | None:
    """A ``disk`` failure when the workspace holds more than ``disk_mb`` MiB (a full count)."""
    return DiskBudget(root, disk_mb).check()
