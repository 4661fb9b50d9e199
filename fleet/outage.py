"""The fleet's database gone for a while (restarted, failed over, the network cut): a
drive waits for it and goes on where it stopped; it never fails a run for it.

What a drive writes to the fleet's tables, and the run's journal, are in that database: a
StorageError ("unreachable") from either ends the attempt; the attempt is made again once
the database answers (a run's journal resumes at the step that could not be written, so
nothing done is done twice). A worker asked to stop while it waits stops waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from harness.errors import StorageError

T = TypeVar("T")
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


def until_reachable(
    attempt: Callable[[], T], *, what: str, stopping: threading.Event, say: Callable[[str], None]
) -> T:
    """``attempt()``, made again after each StorageError once the backoff has passed (said
    once per outage); the last StorageError if the worker is stopping."""
    waits = 0
    while True:
        try:
            result = attempt()
        except StorageError as error:
            if stopping.is_set():
                raise
            if waits == 0:
                say(f"{what}: {error}; waiting for the database, then going on")
            stopping.wait(BACKOFF_S[min(waits, len(BACKOFF_S) - 1)])
            waits += 1
            continue
        if waits:
            say(f"{what}: the database is back after {waits} attempt(s); going on")
        return result
