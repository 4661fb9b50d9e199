"""The one walk of a project's work tree, for the checks that must see every file.

The disk budget (runners.disk), the FIFOs that would block git (artifacts.git_safety)
and the setuid bits a workload left (session.setid) each look at every entry of the
project except the harness's own ``.git/`` and ``.harness/``. :func:`entries` yields them;
what to read of each (a stat, only its type) is the caller's choice, since a stat per
file is what such a walk costs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

HARNESS_OWN = frozenset({".git", ".harness"})


def entries(root: Path) -> Iterator[os.DirEntry[str]]:
    """Every entry under ``root`` that is not a directory (files, links, FIFOs, ...),
    descending into directories but never through a symlink, and not into ``.git/`` or
    ``.harness/`` at the root. A folder that cannot be read is skipped."""
    top = str(root)
    pending = [top]
    while pending:
        folder = pending.pop()
        try:
            listing = os.scandir(folder)
        except OSError:
            continue
        with listing:
            for entry in listing:
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if not is_dir:
                    yield entry
                elif folder != top or entry.name not in HARNESS_OWN:
                    pending.append(entry.path)
