"""The SQLite journal: runs, sessions and the read API (``harness.journal.protocol``)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from harness.errors import JournalDamaged, JournalError, JournalLost, StorageError
from harness.events import Events
from harness.journal import faults
from harness.journal.blobs import INLINE_LIMIT, BlobStore
from harness.journal.chain import Chain
from harness.journal.codec import encode, join_large, split_large
from harness.journal.lock import RunLock
from harness.journal.session import SessionJournal
from harness.journal.store import DB_NAME, open_db, open_db_readonly, read_journal_id
from harness.redact import Redactor

if TYPE_CHECKING:
    from harness.journal import rows
    from harness.journal.evidence import CitedStep


FLUSH_AFTER_S = 0.05  # a deferred statement is written at most this late


class Journal:
    """One project's journal at ``<project>/.harness`` (SQLite in WAL mode plus blob files)."""

    def __init__(
        self,
        state_dir: Path,
        conn: sqlite3.Connection,
        *,
        readonly: bool,
        synchronous: str,
        chain: Chain | None = None,
        redactor: Redactor | None = None,
        events: Events | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / DB_NAME
        self.conn = conn
        self._chain = chain
        self.id = chain.journal_id if chain is not None else read_journal_id(conn)
        self._identity = _file_identity(self.path)
        self._faulted = False
        self.readonly = readonly
        self.synchronous = synchronous
        self.blobs = BlobStore(state_dir / "blobs", fsync=synchronous == "FULL")
        self.redactor = redactor or Redactor()  # the run's secrets, hidden from every row
        self.events = events or Events()  # who watches the run's sessions and live steps
        self.write_lock = threading.RLock()
        self._locks: dict[str, RunLock] = {}
        # A statement written with the next one, in its transaction (``defer``), or by a
        # timer when no next one comes within FLUSH_AFTER_S.
        self._pending: tuple[str, tuple[Any, ...]] | None = None
        self._timer: threading.Timer | None = None
        self._closed = False

    @classmethod
    def open(
        cls,
        state_dir: Path,
        *,
        synchronous: str = "NORMAL",
        redactor: Redactor | None = None,
        events: Events | None = None,
    ) -> Journal:
        """Open (or create) the journal for writing, checked first: StorageError on a full or
        read-only disk, JournalDamaged when SQLite's check fails, JournalKeyMissing."""
        state_dir = Path(state_dir)
        conn, chain = open_db(state_dir, synchronous=synchronous)
        return cls(
            state_dir,
            conn,
            readonly=False,
            synchronous=synchronous.upper(),
            chain=chain,
            redactor=redactor,
            events=events,
        )

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Journal:
        """Open for reading only (status, log, TUI): never blocks the writer, never writes."""
        state_dir = Path(state_dir)
        return cls(state_dir, open_db_readonly(state_dir), readonly=True, synchronous="NORMAL")

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
        """Write what is deferred, release every run lock this process holds and close
        the database."""
        with self.write_lock:
            if self._timer is not None:
                self._timer.cancel()
            with suppress(JournalError, StorageError):  # a deferred end: the step runs again
                self.flush()
            self._closed = True
            for lock in self._locks.values():
                lock.release()
            self._locks.clear()
            self.conn.close()
        if not self.readonly and self._chain is not None and not self._faulted:
            # The files as this process leaves them: the next open may trust its check.
            faults.write_stamp(self.path, self._chain.key)

    @property
    def chain(self) -> Chain:
        """The HMAC chain (its key read on first use; JournalKeyMissing if not here)."""
        if self._chain is None:
            from harness.journal import keys

            if self.id is None:
                raise JournalError(
                    f"journal {self.path} predates the HMAC chain (schema version 1); the next "
                    "`harness run` signs it"
                )
            self._chain = Chain(self.id, keys.load_key(self.id, self.path))
        return self._chain

    def check_present(self) -> None:
        """JournalLost if the file this journal writes was removed or replaced on disk
        (``.harness/`` deleted mid-run): what it writes from then on is lost."""
        now = _file_identity(self.path)
        if now is None or now != self._identity:
            what = "removed" if now is None else "replaced by another file"
            raise JournalLost(
                f"journal {self.path} (id {self.id}) was {what} while this run was writing "
                "it: the steps recorded since are lost, and evidence citing them cannot be "
                "checked. `harness run` starts again with the journal now there, and verifies "
                "again every feature whose evidence cites the lost one"
            )

    # -- runs ------------------------------------------------------------------------
    def _writable(self) -> None:
        if self.readonly:
            raise JournalError(f"journal {self.path} was opened read-only")

    def start_run(self, kind: str = "run", meta: dict[str, Any] | None = None) -> Run:
        """Create a run and take its lock (RunLocked if another process drives it)."""
        self._writable()
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()
        self._locks[run_id] = RunLock.acquire(self.state_dir, run_id)
        with self.write_lock:
            self.execute(
                "INSERT INTO runs (id, kind, status, meta, created_at, holder_pid) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (run_id, kind, self.dump(meta or {}), time.time(), os.getpid()),
            )
        return Run(self, run_id, kind)

    def resume_run(self, run_id: str) -> Run:
        """Take over an existing run (RunLocked if another live process drives it)."""
        self._writable()
        row = self.execute("SELECT kind FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise JournalError(f"no run {run_id!r} in journal {self.path}")
        if run_id not in self._locks:
            self._locks[run_id] = RunLock.acquire(self.state_dir, run_id)
        with self.write_lock:
            self.execute("UPDATE runs SET holder_pid = ? WHERE id = ?", (os.getpid(), run_id))
        return Run(self, run_id, str(row[0]))

    def unfinished_run(self, kind: str = "run") -> str | None:
        """The newest run of ``kind`` that has not finished, if any."""
        row = self.execute(
            "SELECT id FROM runs WHERE kind = ? AND status = 'running' "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (kind,),
        ).fetchone()
        return None if row is None else str(row[0])

    def release(self, run_id: str) -> None:
        lock = self._locks.pop(run_id, None)
        if lock is not None:
            lock.release()

    # -- storage helpers -------------------------------------------------------------
    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Run one statement; an SQLite error becomes what it means: StorageError (full,
        read-only), JournalDamaged (only when SQLite's own check agrees) or JournalError.

        A deferred statement goes first, in the same transaction when this one writes."""
        if self._pending is not None:
            with self.write_lock:
                return self._after_pending(sql, params)
        return self._run(sql, params)

    def defer(self, sql: str, params: tuple[Any, ...]) -> None:
        """Write ``sql`` with the next statement (one commit for both) or at close.

        For the end of a quick idempotent step (``session.DEFER_S``): lost in a crash,
        that step only looks in flight and runs again, which costs less than the commit
        saved. Readers in other processes see the end when the next statement commits.
        """
        with self.write_lock:
            self.flush()
            self._pending = (sql, params)
            if self._timer is None:  # one timer for a burst of quick steps, not one each
                self._timer = threading.Timer(FLUSH_AFTER_S, self._flush_late)
                self._timer.daemon = True
                self._timer.start()

    def _flush_late(self) -> None:
        """The timer: what is still deferred after FLUSH_AFTER_S is written (a reader in
        another process sees a quick step end within that, even if nothing follows it)."""
        with self.write_lock:
            self._timer = None
            if self._closed:
                return
            with suppress(JournalError, StorageError):  # the next statement meets it too
                self.flush()

    def flush(self) -> None:
        """Write the deferred statement now, if there is one."""
        with self.write_lock:
            pending, self._pending = self._pending, None
            if pending is not None:
                self._run(*pending)

    def _after_pending(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        pending, self._pending = self._pending, None
        assert pending is not None
        verb = sql.lstrip()[:7].upper()
        if verb.startswith("BEGIN"):
            cursor = self._run(sql, params)
            self._run(*pending)  # the first statement of the transaction
            return cursor
        if self.conn.in_transaction:
            self._run(*pending)  # committed with the open transaction
            return self._run(sql, params)
        if not verb.startswith(("INSERT", "UPDATE", "DELETE", "REPLACE")):
            self._run(*pending)  # a read: the deferred write first, on its own
            return self._run(sql, params)
        self._run("BEGIN IMMEDIATE")
        try:
            self._run(*pending)
            cursor = self._run(sql, params)
            self._run("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        return cursor

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as error:
            raise JournalError(f"journal {self.path}: {error}") from error
        except sqlite3.DatabaseError as error:
            self._faulted = True  # never vouch for this file at close
            raise faults.classify(self.path, error) from error

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: committed on success, rolled back on an exception."""
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def dump(self, value: Any) -> str:
        """Redacted JSON text of a small value (meta, summaries, reports)."""
        return encode(value, self.redactor)

    def store(self, text: str) -> tuple[str | None, str | None]:
        """(inline text, blob digest): each string over 64 KB goes to the blob store once,
        by content (``codec.split_large``), then payloads over 16 KB go there too."""
        if len(text) <= INLINE_LIMIT // 4:
            return text, None
        text = split_large(text, self._blob)
        data = text.encode()
        if len(data) <= INLINE_LIMIT:
            return text, None
        return None, self._blob(data)

    def _blob(self, data: bytes) -> str:
        """Store ``data`` in the blob store (once by content) and record it; its digest."""
        try:
            digest = self.blobs.put(data)
        except OSError as error:
            raise (faults.from_oserror(self.blobs.root, error) or error) from error
        self.execute(
            "INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)",
            (digest, len(data), time.time()),
        )
        return digest

    def load(self, text: str | None, blob: str | None) -> Any:
        """The JSON value stored inline or in a blob (None if neither), its large strings
        read back from the blob store."""
        if blob is not None:
            text = self.blobs.get(blob).decode()
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError as error:
            raise JournalDamaged(f"journal {self.path}: a stored value is not JSON") from error
        return join_large(text, value, self.blobs.get)

    # -- read API ----------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Reads that hit a damaged page raise JournalDamaged, not a raw SQLite error.
        What is deferred is written first, so a read sees every step that ended."""
        if self._pending is not None:
            self.flush()
        try:
            yield
        except sqlite3.DatabaseError as error:
            self._faulted = True  # never vouch for this file at close
            raise faults.classify(self.path, error) from error

    def runs(self) -> list[rows.RunRow]:
        from harness.journal import rows

        with self._reading():
            return rows.runs(self.conn)

    def sessions(self, run_id: str | None = None) -> list[rows.SessionRow]:
        from harness.journal import rows

        with self._reading():
            return rows.sessions(self.conn, run_id)

    def steps(
        self,
        run_id: str | None = None,
        session: int | None = None,
        since_rowid: int | None = None,
        *,
        include_superseded: bool = False,
    ) -> list[rows.StepRow]:
        from harness.journal import rows

        with self._reading():
            return rows.steps(self.conn, run_id, session, since_rowid, include_superseded)

    def step_detail(self, run_id: str, session: int, seq: int) -> rows.StepDetail | None:
        """A step with its inputs, output and error loaded (blobs included)."""
        from harness.journal import rows

        with self._reading():
            return rows.step_detail(self, run_id, session, seq)

    def last_rowid(self) -> int:
        from harness.journal import rows

        with self._reading():
            return rows.last_rowid(self.conn)

    def session_totals(
        self, run_id: str | None = None, session: int | None = None
    ) -> dict[tuple[str, int], tuple[int, int, float]]:
        from harness.journal import rows

        with self._reading():
            return rows.session_totals(self.conn, run_id, session)

    def cited_step(self, ref: str) -> CitedStep | str:
        from harness.journal.evidence import cited_step

        return cited_step(self, ref)

    def cache_stats(self) -> list[rows.CacheStat]:
        from harness.journal import rows

        with self._reading():
            return rows.cache_stats(self.conn)

    def usage(self, run_id: str | None = None) -> tuple[int, float]:
        """(tokens, dollars) recorded by the steps of ``run_id`` (every run if None),
        superseded steps included: what was spent, whether or not it still counts."""
        sql = "SELECT coalesce(sum(tokens), 0), coalesce(sum(cost_usd), 0.0) FROM steps"
        params: tuple[Any, ...] = () if run_id is None else (run_id,)
        with self._reading():
            row = self.conn.execute(
                sql + (" WHERE run_id = ?" if run_id else ""), params
            ).fetchone()
        return int(row[0]), float(row[1])

    def latest_run(self) -> str | None:
        found = self.runs()
        return found[-1].id if found else None

    def close_open_sessions(self, run_id: str, outcome: str) -> None:
        """Sessions of a run that ends are closed with its outcome, never left "running"."""
        self._writable()
        with self.write_lock:
            self.execute(
                "UPDATE sessions SET status = 'closed', outcome = ?, ended_at = ? "
                "WHERE run_id = ? AND status = 'open'",
                (outcome, time.time(), run_id),
            )

    def close_abandoned(self, kind: str = "run") -> None:
        """Runs of ``kind`` left running by a dead process, other than the newest (which
        the caller resumes), are finished as `interrupted`, with their open sessions."""
        self._writable()
        newest = self.unfinished_run(kind)
        for row in self.runs():
            if row.kind != kind or row.status != "running" or row.id == newest:
                continue
            if self.holder(row.id) is not None:
                continue
            self.close_open_sessions(row.id, "interrupted")
            with self.write_lock:
                self.execute(
                    "UPDATE runs SET status = 'finished', outcome = 'interrupted', "
                    "finished_at = ? WHERE id = ? AND status = 'running'",
                    (time.time(), row.id),
                )

    def holder(self, run_id: str) -> int | None:
        """The pid of the live process holding the run's lock (driving it now), else None."""
        return RunLock.holder(self.state_dir, run_id)

    def latest_busy_run(self) -> str | None:
        """The newest run that journaled at least one step (None if none did)."""
        with self._reading():
            row = self.conn.execute(
                "SELECT r.id FROM runs r "
                "WHERE EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id) "
                "ORDER BY r.created_at DESC, r.rowid DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class Run:
    """One run: a numbered series of sessions driven by one process at a time."""

    def __init__(self, journal: Journal, run_id: str, kind: str) -> None:
        self.journal = journal
        self.id = run_id
        self.kind = kind

    def session(self, number: int, meta: dict[str, Any] | None = None) -> SessionJournal:
        """Open session ``number``; if it has recorded steps they replay first."""
        journal = self.journal
        with journal.write_lock:
            journal.execute(
                "INSERT OR IGNORE INTO sessions (run_id, number, status, meta, started_at) "
                "VALUES (?, ?, 'open', ?, ?)",
                (self.id, number, journal.dump(meta or {}), time.time()),
            )
        opened = SessionJournal(journal, self.id, number)
        if journal.events.active:
            from harness.events import Event

            recorded = len(opened._recorded)
            data = {"run_kind": self.kind, "replaying": recorded, **(meta or {})}
            journal.events.emit(Event("session.started", self.id, number, data=data))
        return opened

    def next_session_number(self) -> int:
        row = self.journal.execute(
            "SELECT max(number) FROM sessions WHERE run_id = ?", (self.id,)
        ).fetchone()
        return 1 if row is None or row[0] is None else int(row[0]) + 1

    def park(self, outcome: str | None, report: dict[str, Any]) -> None:
        """Record why the unfinished run stopped (None: it is being driven again)."""
        journal = self.journal
        with journal.write_lock:
            journal.execute(
                "UPDATE runs SET outcome = ?, report = ? WHERE id = ? AND status = 'running'",
                (outcome, journal.dump(report) if outcome else None, self.id),
            )

    def annotate(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the run's meta (e.g. the runner in use, for the TUI)."""
        journal = self.journal
        with journal.write_lock:
            row = journal.execute("SELECT meta FROM runs WHERE id = ?", (self.id,)).fetchone()
            meta = json.loads(row[0]) if row and row[0] else {}
            meta.update(values)
            journal.execute("UPDATE runs SET meta = ? WHERE id = ?", (journal.dump(meta), self.id))

    def finish(self, outcome: str, report: dict[str, Any]) -> None:
        """Mark the run finished and release its lock."""
        journal = self.journal
        with journal.write_lock:
            journal.execute(
                "UPDATE runs SET status = 'finished', outcome = ?, report = ?, finished_at = ? "
                "WHERE id = ?",
                (outcome, journal.dump(report), time.time(), self.id),
            )
        journal.release(self.id)
