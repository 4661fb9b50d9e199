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
from runners import classify
from runners.base import Failure

MB = 1024 * 1024
RECOUNT_EVERY = 25  # checks between full counts, whatever the file system says


def workspace_bytes(root: Path, *, stop_above: int | None = None) -> int:
    """Bytes on disk of the files under ``root`` (symlinks not followed), maybe cut short."""
    total = 0
    for entry in walk.entries(root):
        try:
            total += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue
        if stop_above is not None and total > stop_above:
            return total
    return total


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
        used = workspace_bytes(self.root, stop_above=limit)
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
