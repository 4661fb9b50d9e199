"""The one thread of a process that writes deferred step ends when no other write takes them.

A quick step's end rides with the next write, in its transaction (``Journal.defer``). When
nothing follows within ``FLUSH_AFTER_S``, the flusher thread writes it, so a reader in
another process (the TUI, ``harness log --follow``) sees the step end that late at most.
One thread for all the journals of the process (a fleet worker holds hundreds of runs'
journals: a thread each would be hundreds of threads waiting), started at the first
deferral, gone when no journal is open with a flusher; no timer per burst. It never waits
for a journal's lock: a journal busy writing has its end taken by that write, or is tried
again ``after_s`` later, so one slow store delays no other journal's ends.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress

from harness.errors import JournalError, StorageError

FLUSH_AFTER_S = 0.05  # a deferred end is written at most this late


class Flusher:
    """Writes what is deferred ``after_s`` after the last deferral (``flush`` under ``lock``).

    While quick steps keep coming, each write takes the deferred end along and a deferral
    only moves this journal's deadline (no wake-up of the thread per step: it finds the
    deadline moved when it comes, and comes again then)."""

    def __init__(self, lock: threading.RLock, flush: Callable[[], None], after_s: float) -> None:
        self._lock = lock
        self._flush = flush
        self._after_s = after_s
        self._due: float | None = None
        self._queued = False  # in the shared thread's heap (under the journal's lock)
        self._member = False
        self._closed = False

    def due(self) -> None:
        """An end was deferred now (called under the lock)."""
        self._due = time.monotonic() + self._after_s
        if not self._queued and not self._closed:
            self._queued = True
            join, self._member = not self._member, True
            _SHARED.push(self, self._due, join=join)

    def close(self) -> None:
        """Stop this journal's flushes (what is deferred is the caller's to write)."""
        with self._lock:
            self._closed = True
            self._due = None
            member, self._member = self._member, False
        if member:
            _SHARED.leave(self)

    def fire(self) -> None:
        """From the shared thread: write the deferred end if it is due; else come again."""
        if not self._lock.acquire(blocking=False):  # the journal is writing: later
            _SHARED.push(self, time.monotonic() + self._after_s)
            return
        try:
            if self._closed or self._due is None:
                self._queued = False
                return
            if time.monotonic() < self._due:  # moved by deferrals since
                _SHARED.push(self, self._due)
                return
            self._due = None
            self._queued = False
            # A fault here is met again by the next write, or the close, which says it.
            with suppress(JournalError, StorageError):
                self._flush()
        finally:
            self._lock.release()


class _Shared:
    """The process's flusher thread: a heap of (deadline, flusher)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Flusher]] = []
        self._order = itertools.count()
        self._members: set[Flusher] = set()
        self._thread: threading.Thread | None = None

    def push(self, flusher: Flusher, at: float, *, join: bool = False) -> None:
        """Come to ``flusher`` at ``at``; ``join``: its journal is one the thread serves."""
        with self._cond:
            if join:
                self._members.add(flusher)
            earliest = not self._heap or at < self._heap[0][0]
            heapq.heappush(self._heap, (at, next(self._order), flusher))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="journal-flusher", daemon=True
                )
                self._thread.start()
            elif earliest:
                self._cond.notify()

    def leave(self, flusher: Flusher) -> None:
        """A journal closed: the thread ends when it was the last one."""
        with self._cond:
            self._members.discard(flusher)
            thread = self._thread if not self._members else None
            self._cond.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._members:
                        self._heap.clear()
                        self._thread = None
                        return
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        flusher = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(wait)
            flusher.fire()

    def forked(self) -> None:
        """In a forked child: the parent's thread is not there (nor its journals)."""
        self.__init__()  # type: ignore[misc]


_SHARED = _Shared()
os.register_at_fork(after_in_child=_SHARED.forked)
