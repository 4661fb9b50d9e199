"""The children this process started itself and waits for.

A process that is a child subreaper (``runners.reaper``) adopts every orphan below it
and must reap those that exit, or they stay zombies. A child some ``Popen`` waits for is
not an orphan: reaping it would take its exit status, and ``Popen`` would report 0. The
children started in a session of their own are made through :func:`popen`, which lists
them until :func:`done`; ``runners.reaper.collect`` passes over them (and over every
child in this process's own session, which only a direct child can be in).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_waited: set[int] = set()


def popen(argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, **options)``, listed as waited for before anyone can sweep
    (the list is locked while the child is made)."""
    with _lock:
        child: subprocess.Popen[bytes] = subprocess.Popen(argv, **options)
        _waited.add(child.pid)
    return child


def done(pid: int) -> None:
    """``pid`` was waited for: its number may be an orphan's next."""
    with _lock:
        _waited.discard(pid)


@contextmanager
def sweeping() -> Iterator[frozenset[int]]:
    """The children waited for, with no new one made until the sweep ends."""
    with _lock:
        yield frozenset(_waited)
