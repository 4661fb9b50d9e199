"""The disk a workload may fill: a per-file size limit and a checked workspace budget.

The per-file limit is ``RLIMIT_FSIZE`` (local and bubblewrap runners) or the engine's
``fsize`` ulimit (Docker): a write or ``truncate`` past it fails with SIGXFSZ/EFBIG, so a
50 GB sparse file cannot even be created. The workspace budget is checked after each
command by summing the apparent sizes of the project's files (sparse files count at
their full size); the harness's own ``.git`` and ``.harness`` are not the workload's.
"""

from __future__ import annotations

import os
from pathlib import Path

from runners import classify
from runners.base import Failure

MB = 1024 * 1024
SKIPPED = frozenset({".git", ".harness"})


def workspace_bytes(root: Path, *, stop_above: int | None = None) -> int:
    """Apparent size of the files under ``root`` (symlinks not followed), maybe cut short."""
    total = 0
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not (folder == str(root) and entry.name in SKIPPED):
                            pending.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
                if stop_above is not None and total > stop_above:
                    return total
    return total


def over_budget(root: Path, disk_mb: int | None) -> Failure | None:
    """A ``disk`` failure when the workspace holds more than ``disk_mb`` MiB."""
    if disk_mb is None:
        return None
    limit = disk_mb * MB
    used = workspace_bytes(root, stop_above=limit)
    if used <= limit:
        return None
    return classify.disk_budget(disk_mb, used / MB)
