"""The journal a process writes: runs, sessions and the step door over a store (any backend).

``Journal`` is backend-free: a store (``backend.Backend``: SQLite, memory, PostgreSQL)
keeps the rows; the journal owns the chain (its key from the key file, never the store),
the redactor, the event sink, the step hook, the write lock and the one deferred end.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from harness.errors import JournalError, StorageError
from harness.events import Event, Events
from harness.journal.codec import encode, join_large, split_large
from harness.journal.door import StepDoor
from harness.journal.flusher import FLUSH_AFTER_S, Flusher
from harness.journal.location import as_location, open_reader
from harness.redact import Redactor

if TYPE_CHECKING:
    from pathlib import Path

    from harness.journal import rows
    from harness.journal.backend import Backend
    from harness.journal.chain import Chain
    from harness.journal.evidence import CitedStep
    from harness.journal.location import Location
    from harness.journal.protocol import JournalReader
    from harness.journal.records import Begin, End, Recorded

T = TypeVar("T")
INLINE_LIMIT = 16 * 1024  # payloads above this many bytes go to the blob store


StepHook = Callable[[str, str, Callable[[], Any]], Callable[[], Any]]
"""Wraps the work of a live step (``kind``, ``name``, ``fn``): the crash switch of tests."""


class Journal:
    """One project's journal, open for writing."""

    def __init__(
        self,
        store: Backend,
        chain: Chain,
        *,
        redactor: Redactor | None = None,
        events: Events | None = None,
        hook: StepHook | None = None,
        flush_after_s: float | None = FLUSH_AFTER_S,
    ) -> None:
        self.store = store
        self.chain = chain
        self.id = chain.journal_id
        self.journal_id: str | None = chain.journal_id
        self.where = store.where
        self.redactor = redactor if redactor is not None else Redactor()
        self.hook = hook
        self.events = events if events is not None else Events()  # the run's observers
        self._lock = threading.RLock()
        self._pending: tuple[int, End] | None = None
        self._flusher = (
            None if flush_after_s is None else Flusher(self._lock, self.flush, flush_after_s)
        )
        self._runs: set[str] = set()  # runs whose lock this process holds

    @classmethod
    def open(
        cls,
        where: Location | Path | str,
        *,
        synchronous: str = "NORMAL",
        redactor: Redactor | None = None,
        events: Events | None = None,
        hook: StepHook | None = None,
        flush_after_s: float | None = FLUSH_AFTER_S,
    ) -> Journal:
        """The journal at ``where`` for writing (created if absent), checked before any
        write: the one place a writer's backend is chosen.

        Args:
            synchronous: SQLite's synchronous mode (NORMAL or FULL).
            redactor: what the journal hides (a run's secrets); a default one if None.
            events: where the run's events go (None: nobody is told).
            hook: wraps the work of each live step (the crash switch of tests and the demo).
            flush_after_s: how late a deferred step end is written at most (None: no
                thread; it is written with the next write or at close).
        """

        store: Backend
        where = as_location(where)
        if where.backend == "memory":
            # lazy: only the backend in use loads
            from harness.journal.memory import MemoryStore  # noqa: PLC0415

            assert where.memory is not None
            store = MemoryStore(where.memory, where.key_source())
            chain = store.chain()
        elif where.backend == "postgres":
            # lazy: only the backend in use loads (PostgreSQL: psycopg)
            from harness.journal.postgres.store import PostgresStore  # noqa: PLC0415

            store = PostgresStore.open(where)
            # The project's own state (crash logs, reports) stays in .harness/ either way.
            with suppress(OSError):  # a read-only project says so where it writes there
                where.state_dir.mkdir(parents=True, exist_ok=True)
            chain = store.chain()
        else:
            # lazy: only the backend in use loads
            from harness.journal.sqlite.store import SqliteStore  # noqa: PLC0415

            sqlite = SqliteStore(where.state_dir, synchronous=synchronous,
                                 source=where.key_source())  # fmt: skip
            store, chain = sqlite, sqlite.opened_chain
        return cls(store, chain, redactor=redactor, events=events, hook=hook,
                   flush_after_s=flush_after_s)  # fmt: skip

    @staticmethod
    def open_readonly(where: Location | Path | str) -> JournalReader:
        """The journal at ``where``, read-only (``location.open_reader``)."""

        return open_reader(where)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Write what is deferred, release the run locks this process holds, close the store."""
        if self._flusher is not None:
            self._flusher.close()
        with self._lock:
            with suppress(JournalError, StorageError):  # a deferred end: the step runs again
                self.flush()
            for run_id in sorted(self._runs):
                with suppress(JournalError, StorageError):
                    self.store.unlock_run(run_id)
            self._runs.clear()
            self.store.close()

    # -- writing -------------------------------------------------------------------------
    def writing(self) -> _Writing:
        """The door's writes: under the write lock, and with the deferred end, if any, in
        the same transaction (one commit for both)."""
        return _Writing(self)

    def begin(self, row: Begin) -> int:
        """Write a step's started row (its row id), the deferred end, if any, first in the
        same transaction (``Backend.end_and_begin``: one round trip where the store can)."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is None:
                return self.store.begin(row)
            try:
                return self.store.end_and_begin(*pending, row)
            except BaseException:
                self._pending = pending  # neither written: still to write
                raise

    def defer(self, row_id: int, end: End) -> None:
        """Write a quick step's end with the next write (or by the flusher, or at close).

        Lost in a crash, that step only looks in flight and runs again, which costs less
        than the commit saved. Readers in other processes see the end when it commits."""
        with self._lock:
            if self._pending is not None:
                self.flush()
            self._pending = (row_id, end)
            if self._flusher is not None:
                self._flusher.due()

    def flush(self) -> None:
        """Write the deferred end now, if there is one."""
        with self._lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                try:
                    self.store.end(*pending)
                except BaseException:
                    self._pending = pending
                    raise

    def keep(self, text: str) -> tuple[str | None, str | None]:
        """(inline text, blob digest): each string over 64 KB goes to the blob store once,
        by content (``codec.split_large``: one large tool argument is in three steps), then
        payloads over 16 KB go there too."""
        if len(text) <= INLINE_LIMIT // 4:
            return text, None
        with self.writing():
            text = split_large(text, self.store.put_blob)
            if len(data := text.encode()) <= INLINE_LIMIT:
                return text, None
            return None, self.store.put_blob(data)

    def load(self, text: str | None, blob: str | None) -> Any:
        """The JSON value stored inline or in a blob (None if neither), its large strings
        read back from the blob store."""
        if blob is None and text is not None:
            try:
                value = json.loads(text)  # the common case, kept short: replay reads each
            except ValueError:
                pass  # said by the store's load below
            else:
                return join_large(text, value, self.store.get_blob)
        return self.store.load(text, blob)

    def dump(self, value: Any) -> str:
        """Redacted JSON text of a small value (meta, summaries, reports)."""
        return encode(value, self.redactor)

    # -- events --------------------------------------------------------------------------
    def observed(self) -> bool:
        """Whether anyone watches the run (nothing is built for an event when nobody does)."""
        return self.events.active

    def emit(self, event: Event) -> None:
        """Tell the run's observers (``observed()`` says whether there are any)."""
        self.events.emit(event)

    # -- runs ----------------------------------------------------------------------------
    def start_run(self, kind: str = "run", meta: dict[str, Any] | None = None) -> Run:
        """Create a run and take its lock (RunLocked if another process drives it)."""
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()
        self.store.lock_run(run_id)
        self._runs.add(run_id)
        with self.writing():
            self.store.add_run(run_id, kind, self.dump(meta or {}), time.time(), os.getpid())
        return Run(self, run_id, kind)

    def resume_run(self, run_id: str) -> Run:
        """Take over an existing run (RunLocked if another live process drives it)."""
        kind = self.store.run_kind(run_id)
        if kind is None:
            raise JournalError(f"no run {run_id!r} in journal {self.where}")
        if run_id not in self._runs:
            self.store.lock_run(run_id)
            self._runs.add(run_id)
        with self.writing():
            self.store.claim_run(run_id, os.getpid())
        return Run(self, run_id, kind)

    def release(self, run_id: str) -> None:
        if run_id in self._runs:
            self._runs.discard(run_id)
            self.store.unlock_run(run_id)

    def close_session(self, run_id: str, number: int, outcome: str, summary: Any) -> None:
        text = self.dump(summary)
        with self.writing():
            self.store.close_session(run_id, number, outcome, text, time.time())
        if self.observed():
            data = json.loads(text)
            self.emit(Event("session.ended", run_id, number, status=outcome, data=data))

    def close_open_sessions(self, run_id: str, outcome: str) -> None:
        """Sessions of a run that ends are closed with its outcome, never left "running"."""
        with self.writing():
            self.store.close_open_sessions(run_id, outcome, time.time())

    def close_abandoned(self, kind: str = "run") -> str | None:
        """Runs of ``kind`` left running by a dead process, other than the newest (which
        the caller resumes), are finished as `interrupted`, with their open sessions; the
        newest unfinished run of ``kind`` (None: none), as ``unfinished_run`` says."""
        newest = self.unfinished_run(kind)
        for row in self.runs():
            if row.kind != kind or row.status != "running" or row.id == newest:
                continue
            if self.holder(row.id) is not None:
                continue
            with self.writing(), self.store.batch():
                self.store.close_open_sessions(row.id, "interrupted", time.time())
                self.store.finish_run(row.id, "interrupted", None, time.time(), if_running=True)
        return newest

    # -- the read API, each read after the deferred end is written -------------------------
    def _read(self) -> Backend:
        if self._pending is not None:
            self.flush()
        return self.store

    def load_session(self, run_id: str, session: int) -> list[Recorded]:
        return self._read().load_session(run_id, session)

    def runs(self) -> list[rows.RunRow]:
        return self._read().runs()

    def latest_run(self) -> str | None:
        return self._read().latest_run()

    def unfinished_run(self, kind: str = "run") -> str | None:
        return self._read().unfinished_run(kind)

    def latest_busy_run(self) -> str | None:
        return self._read().latest_busy_run()

    def holder(self, run_id: str) -> int | None:
        return self.store.holder(run_id)

    def usage(self, run_id: str | None = None) -> tuple[int, float]:
        return self._read().usage(run_id)

    def sessions(self, run_id: str | None = None) -> list[rows.SessionRow]:
        return self._read().sessions(run_id)

    def steps(
        self,
        run_id: str | None = None,
        session: int | None = None,
        since_rowid: int | None = None,
        *,
        include_superseded: bool = False,
    ) -> list[rows.StepRow]:
        return self._read().steps(run_id, session, since_rowid,
                                  include_superseded=include_superseded)  # fmt: skip

    def step_detail(self, run_id: str, session: int, seq: int) -> rows.StepDetail | None:
        return self._read().step_detail(run_id, session, seq)

    def last_rowid(self) -> int:
        return self._read().last_rowid()

    def session_totals(
        self, run_id: str | None = None, session: int | None = None
    ) -> dict[tuple[str, int], tuple[int, int, float]]:
        return self._read().session_totals(run_id, session)

    def cache_stats(self) -> list[rows.CacheStat]:
        return self._read().cache_stats()

    def cited_step(self, ref: str) -> CitedStep | str:
        return self._read().cited_step(ref)

    def check_present(self) -> None:
        self.store.check_present()


class _Writing:
    """``Journal.writing``: the write lock, and the deferred end written first in the same
    transaction (kept to write again if that transaction fails)."""

    __slots__ = ("batch", "journal", "pending")

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.batch: AbstractContextManager[None] | None = None
        self.pending: tuple[int, End] | None = None

    def __enter__(self) -> None:
        journal = self.journal
        journal._lock.acquire()
        pending = self.pending = journal._pending
        if pending is None:
            return
        journal._pending = None
        store = journal.store
        try:
            self.batch = store.batch()
            self.batch.__enter__()
            store.end(*pending)
        except BaseException as error:
            self.__exit__(type(error), error, None)
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        journal = self.journal
        try:
            if self.batch is not None:
                try:
                    self.batch.__exit__(kind, error, trace)
                except BaseException:
                    journal._pending = self.pending  # not committed: still to write
                    raise
                if kind is not None:
                    journal._pending = self.pending  # rolled back: still to write
        finally:
            journal._lock.release()


class Run:
    """One run: a numbered series of sessions driven by one process at a time."""

    def __init__(self, journal: Journal, run_id: str, kind: str) -> None:
        self.journal = journal
        self.id = run_id
        self.kind = kind

    def session(self, number: int, meta: dict[str, Any] | None = None) -> StepDoor:
        """Open session ``number``; if it has recorded steps they replay first."""
        journal = self.journal
        with journal.writing():
            journal.store.open_session(self.id, number, journal.dump(meta or {}), time.time())
        door = StepDoor(journal, self.id, number)
        if journal.observed():
            data = {"run_kind": self.kind, "replaying": door.recorded, **(meta or {})}
            journal.emit(Event("session.started", self.id, number, data=data))
        return door

    def next_session_number(self) -> int:
        return self.journal.store.last_session(self.id) + 1

    def park(self, outcome: str | None, report: dict[str, Any]) -> None:
        """Record why the unfinished run stopped (None: it is being driven again)."""
        journal = self.journal
        text = journal.dump(report) if outcome else None
        with journal.writing():
            journal.store.park_run(self.id, outcome, text)

    def annotate(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the run's meta (e.g. the runner in use, for the TUI)."""
        journal = self.journal
        with journal.writing():
            text = journal.store.run_meta(self.id)
            meta = json.loads(text) if text else {}
            merged = journal.dump({**meta, **values})
            if json.loads(merged) != meta:  # each drive of a run says the same: not written
                journal.store.set_run_meta(self.id, merged)

    def finish(self, outcome: str, report: dict[str, Any]) -> None:
        """Mark the run finished and release its lock."""
        journal = self.journal
        with journal.writing():
            journal.store.finish_run(self.id, outcome, journal.dump(report), time.time(),
                                     if_running=False)  # fmt: skip
        journal.release(self.id)
