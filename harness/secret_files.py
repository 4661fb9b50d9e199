"""Which files of a project are declared secret: ``.env`` files by default (not their
templates), plus the ``[protect] hide`` patterns.

A secret file is never visible to a workload (a sandbox covers it, see
``runners.protect.covered``) nor to the file tools (``read_file``, ``list_files``,
``grep``). Standard library only: the tool worker that runs ``list_files`` and ``grep``
imports it, and starts fast.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

DEFAULT_HIDDEN = (".env", ".env.*")
TEMPLATES = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})


def is_hidden(relative: str, patterns: Iterable[str] = ()) -> bool:
    """Whether ``relative`` (a POSIX path from the project root) is, or lies inside, a
    hidden path. A pattern without ``/`` matches a name at any depth; one with ``/`` the
    path from the root (fnmatch: ``*``, ``?``, ``[...]``)."""
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    patterns = list(patterns)
    for depth in range(1, len(parts) + 1):
        if matches("/".join(parts[:depth]), parts[depth - 1], patterns):
            return True
    return False


def matches(path: str, name: str, patterns: Iterable[str]) -> bool:
    """Whether the entry ``name`` at ``path`` (from the project root) is itself secret."""
    if name not in TEMPLATES and any(fnmatch.fnmatchcase(name, p) for p in DEFAULT_HIDDEN):
        return True
    for pattern in patterns:
        subject = path if "/" in pattern else name
        if fnmatch.fnmatchcase(subject, pattern.strip("/")):
            return True
    return False
