"""The PostgreSQL backend: the journal's tables, its blobs (a table) and its run locks
(session advisory locks, released by the server when the holder's connection dies)."""

from __future__ import annotations

import hashlib
import time
import weakref
from contextlib import suppress
from typing import TYPE_CHECKING

from harness.errors import JournalDamaged, JournalError, RunLocked, StorageError
from harness.journal.postgres.connect import PgSql, open_sql
from harness.journal.postgres.schema import ensure, read_meta
from harness.journal.sql.reader import SqlReader
from harness.journal.sql.store import INSERT_STARTED, SqlStore, ending

if TYPE_CHECKING:
    from harness.journal.location import Location
    from harness.journal.postgres.pool import Pool, PooledSql
    from harness.journal.records import Begin, End


class TableBlobs:
    """Large payloads in the ``blobs`` table, checked against their sha256 when read."""

    def __init__(self, sql: PgSql | PooledSql) -> None:
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
    the driving process's connection lives, released by the server when it dies. Through
    a pool (``harness.journal.postgres.pool``) that connection is the pool's lock
    connection, shared by the process's runs; if it is lost, ``check`` fences this store."""

    def __init__(self, sql: PgSql | PooledSql, journal_id: str, pool: Pool | None = None):
        self.sql = sql
        self.journal_id = journal_id
        self.pool = pool
        self._held: set[str] = set()
        self._generation = 0  # the pool's lock connection the locks were taken on
        self._fenced = False  # its locks were lost: this store writes no more
        self._keys: dict[int, int] = {}  # through a pool: key -> generation, until released
        if pool is not None:  # a store dropped unclosed lets its runs go (its own
            # connection's close did, before the pool)
            weakref.finalize(self, _release, pool, self._keys)

    def _key(self, run_id: str) -> int:
        digest = hashlib.sha256(f"{self.journal_id}/{run_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def lock(self, run_id: str) -> None:
        if run_id in self._held:
            return
        key = self._key(run_id)
        if self.pool is None:
            row = self.sql.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()
            free = bool(row and row[0])
        else:
            self.check()
            generation, free = self.pool.try_lock(key)
            if self._held and generation != self._generation:
                raise self._lost()
            self._generation = generation
            if free:
                self._keys[key] = generation
        if not free:
            holder = self._pid(run_id)
            raise RunLocked(
                f"run {run_id} is being driven by another process (pid {holder or 'unknown'}, "
                "maybe on another machine); wait for it to finish or stop it, then try again"
            )
        self._held.add(run_id)

    def unlock(self, run_id: str) -> None:
        if run_id not in self._held:
            return
        self._held.discard(run_id)
        if self.pool is None:
            self.sql.execute("SELECT pg_advisory_unlock(?)", (self._key(run_id),))
        else:
            key = self._key(run_id)
            self._keys.pop(key, None)
            self.pool.unlock(key, self._generation)

    def check(self) -> None:
        """StorageError if the pool's lock connection these locks were taken on is lost:
        this store writes no more (its run waits, then opens its journal and locks again)."""
        if self._fenced or (
            self._held and self.pool is not None and self.pool.locks_lost(self._generation)
        ):
            raise self._lost()

    def _lost(self) -> StorageError:
        self._fenced = True
        self._held.clear()
        return StorageError(
            self.sql.where, "unreachable",
            "the connection holding this process's run locks was lost",
        )  # fmt: skip

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
        if self.pool is not None:  # the shared lock connection stays: release each
            for run_id in sorted(self._held):
                with suppress(StorageError, JournalError):
                    self.unlock(run_id)
        self._held.clear()  # else the connection's close releases them


class PostgresReader(SqlReader):
    """A read-only connection to the journal's database."""

    @classmethod
    def open(cls, where: Location) -> PostgresReader:
        sql = open_sql(where, readonly=True)
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
        locks = AdvisoryLocks(sql, journal_id or "", _pool_of(where, sql))
        reader = cls(sql, TableBlobs(sql), locks, journal_id)
        reader.key_source = where.keys
        return reader


class PostgresStore(SqlStore):
    """The journal a process writes, in PostgreSQL."""

    @classmethod
    def open(cls, where: Location) -> PostgresStore:
        """Connect and make the tables if the database holds none: StorageError when the
        server cannot be reached, JournalError when it holds another project's journal."""
        sql = open_sql(where)
        try:
            journal_id = ensure(sql, where.project, where.key_source())
            locks = AdvisoryLocks(sql, journal_id, _pool_of(where, sql))
            if locks.pool is not None:
                sql.fence = locks.check  # type: ignore[union-attr]  # a PooledSql
            store = cls(sql, TableBlobs(sql), locks, journal_id)
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
    sql = open_sql(where, readonly=True)
    try:
        return read_meta(sql) is not None
    finally:
        sql.close()


def _release(pool: Pool, keys: dict[int, int]) -> None:
    for key, generation in list(keys.items()):
        with suppress(StorageError, JournalError):
            pool.unlock(key, generation)
    keys.clear()


def _pool_of(where: Location, sql: PgSql | PooledSql) -> Pool | None:
    """The pool ``sql`` borrows from (None: a connection of its own)."""
    return None if isinstance(sql, PgSql) else where.pool
