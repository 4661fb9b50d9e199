"""The one thread of a journal that writes a deferred step end when no other write takes it.

A quick step's end rides with the next write, in its transaction (``Journal.defer``). When
nothing follows within ``FLUSH_AFTER_S``, this thread writes it, so a reader in another
process (the TUI, ``harness log --follow``) sees the step end that late at most. One thread
per journal, started at the first deferral, waiting on a condition (no timer per burst),
stopped at close.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress

from harness.errors import JournalError, StorageError

FLUSH_AFTER_S = 0.05  # a deferred end is written at most this late


class Flusher:
    """Writes what is deferred ``after_s`` after the last deferral (``flush`` under ``lock``).

    While quick steps keep coming, each write takes the deferred end along and the thread
    only moves its deadline; it never goes idle in a burst, so nothing wakes it per step
    (a notify per step would make it fight the writer for the lock)."""

    def __init__(self, lock: threading.RLock, flush: Callable[[], None], after_s: float) -> None:
        self._cond = threading.Condition(lock)
        self._flush = flush
        self._after_s = after_s
        self._due: float | None = None
        self._thread: threading.Thread | None = None
        self._idle = False
        self._closed = False

    def due(self) -> None:
        """An end was deferred now (called under the lock)."""
        self._due = time.monotonic() + self._after_s
        if self._idle:
            self._cond.notify()
        elif self._thread is None:
            self._thread = threading.Thread(target=self._run, name="journal-flusher", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread (what is deferred is the caller's to write)."""
        with self._cond:
            self._closed = True
            self._due = None
            self._cond.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._due is None:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                    continue
                wait = self._due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._due = None
                # A fault here is met again by the next write, or the close, which says it.
                with suppress(JournalError, StorageError):
                    self._flush()
