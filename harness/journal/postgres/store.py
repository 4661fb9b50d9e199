"""The PostgreSQL backend: the journal's tables, its blobs (a table) and its run locks
(session advisory locks, released by the server when the holder's connection dies)."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from harness.errors import JournalDamaged, JournalError, RunLocked
from harness.journal.postgres.connect import PgSql, connect
from harness.journal.postgres.schema import ensure, read_meta
from harness.journal.sql.reader import SqlReader
from harness.journal.sql.store import INSERT_STARTED, SqlStore, ending

if TYPE_CHECKING:
    from harness.journal.location import Location
    from harness.journal.records import Begin, End


class TableBlobs:
    """Large payloads in the ``blobs`` table, checked against their sha256 when read."""

    def __init__(self, sql: PgSql) -> None:
        self.sql = sql

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.sql.execute(
            "INSERT INTO blobs (digest, size, created_at, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (digest) DO NOTHING",
            (digest, len(data), time.time(), data),
        )
        return digest

    def get(self, digest: str) -> bytes:
        problem, data = self._read(digest)
        if problem is not None:
            raise JournalDamaged(f"{problem}. Run `harness journal verify`.")
        return data

    def check(self, digest: str) -> str | None:
        return self._read(digest)[0]

    def _read(self, digest: str) -> tuple[str | None, bytes]:
        row = self.sql.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            return f"blob {digest} is missing from {self.sql.where}", b""
        data = bytes(row[0])
        if hashlib.sha256(data).hexdigest() != digest:
            return f"blob {digest} in {self.sql.where} does not match its digest", data
        return None, data


class AdvisoryLocks:
    """A run's lock is a session advisory lock keyed by the journal and the run: held while
    the driving process's connection lives, released by the server when it dies."""

    def __init__(self, sql: PgSql, journal_id: str) -> None:
        self.sql = sql
        self.journal_id = journal_id
        self._held: set[str] = set()

    def _key(self, run_id: str) -> int:
        digest = hashlib.sha256(f"{self.journal_id}/{run_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def lock(self, run_id: str) -> None:
        if run_id in self._held:
            return
        row = self.sql.execute("SELECT pg_try_advisory_lock(?)", (self._key(run_id),)).fetchone()
        if not row or not row[0]:
            holder = self._pid(run_id)
            raise RunLocked(
                f"run {run_id} is being driven by another process (pid {holder or 'unknown'}, "
                "maybe on another machine); wait for it to finish or stop it, then try again"
            )
        self._held.add(run_id)

    def unlock(self, run_id: str) -> None:
        if run_id in self._held:
            self._held.discard(run_id)
            self.sql.execute("SELECT pg_advisory_unlock(?)", (self._key(run_id),))

    def holder(self, run_id: str) -> int | None:
        key = self._key(run_id)
        row = self.sql.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid::bigint = ? AND objid::bigint = ? AND objsubid = 1",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchone()
        if row is None:
            return None
        return self._pid(run_id) or -1

    def _pid(self, run_id: str) -> int | None:
        row = self.sql.execute("SELECT holder_pid FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def close(self) -> None:
        self._held.clear()  # the connection's close releases them


class PostgresReader(SqlReader):
    """A read-only connection to the journal's database."""

    @classmethod
    def open(cls, where: Location) -> PostgresReader:
        sql = connect(where.url or "", readonly=True)
        try:
            meta = read_meta(sql)
            if meta is None:
                raise JournalError(
                    f"no journal in {sql.where}: nothing has run with this database yet"
                )
        except BaseException:
            sql.close()
            raise
        journal_id = meta.get("journal_id")
        reader = cls(sql, TableBlobs(sql), AdvisoryLocks(sql, journal_id or ""), journal_id)
        reader.key_source = where.keys
        return reader


class PostgresStore(SqlStore):
    """The journal a process writes, in PostgreSQL."""

    @classmethod
    def open(cls, where: Location) -> PostgresStore:
        """Connect and make the tables if the database holds none: StorageError when the
        server cannot be reached, JournalError when it holds another project's journal."""
        sql = connect(where.url or "")
        try:
            journal_id = ensure(sql, where.project, where.key_source())
            store = cls(sql, TableBlobs(sql), AdvisoryLocks(sql, journal_id), journal_id)
            store.key_source = where.keys
            store.chain()  # the key is here (JournalKeyMissing says where it is not)
        except BaseException:
            sql.close()
            raise
        return store

    def end_and_begin(self, row_id: int, end: End, row: Begin) -> int:
        """One statement, so one round trip and one transaction (a data-modifying WITH:
        both run to completion or neither does), where BEGIN, UPDATE, INSERT and COMMIT
        were four."""
        sql, params = ending(row_id, end)
        return self.sql.insert(f"WITH ended AS ({sql}) {INSERT_STARTED}", (*params, *row))


def exists(where: Location) -> bool:
    """Whether the database holds a journal (StorageError when it cannot be reached)."""
    sql = connect(where.url or "", readonly=True)
    try:
        return read_meta(sql) is not None
    finally:
        sql.close()
