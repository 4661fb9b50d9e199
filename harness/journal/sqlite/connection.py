"""One SQLite connection of the journal: statements, transactions, and errors told apart."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import JournalError
from harness.journal import faults


class SqliteSql:
    """Runs statements; an SQLite error becomes what it means: StorageError (full,
    read-only), JournalDamaged (only when SQLite's own check agrees) or JournalError."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.where = str(path)
        self.faulted = False  # a fault was met: never vouch for this file at close
        # The per-step path's statements run on this one cursor: ``Connection.execute``
        # makes (and registers, and frees) a cursor per statement, four a step.
        self._step_cursor = conn.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.DatabaseError as error:
            raise self._meaning(error) from error

    def _meaning(self, error: sqlite3.DatabaseError) -> Exception:
        if isinstance(error, sqlite3.IntegrityError):
            return JournalError(f"journal {self.path}: {error}")
        self.faulted = True
        return faults.classify(self.path, error)

    def update_then_insert(
        self, update: tuple[str, Sequence[Any]], sql: str, params: Sequence[Any]
    ) -> int:
        """``update``, then the insert (its row id), in one transaction: a quick step's
        deferred end and the next step's start. The four statements run in one frame: this
        is the per-step path, and a context manager between them costs a tenth of its
        Python time. The caller holds the journal's write lock (the cursor is shared)."""
        conn = self.conn
        if conn.in_transaction:
            self.execute(*update)
            return self.insert(sql, params)
        execute = self._step_cursor.execute
        try:
            execute("BEGIN IMMEDIATE")
            try:
                execute(*update)
                row_id = execute(sql, params).lastrowid
                execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as error:
            raise self._meaning(error) from error
        assert row_id is not None
        return row_id

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        row_id = self.execute(sql, params).lastrowid
        assert row_id is not None
        return row_id

    def batch(self) -> _Batch:
        return _Batch(self)

    def close(self) -> None:
        self.conn.close()


class _Batch:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on an exception; inside an open
    transaction it joins it."""

    __slots__ = ("outer", "sql")

    def __init__(self, sql: SqliteSql) -> None:
        self.sql = sql
        self.outer = False

    def __enter__(self) -> None:
        self.outer = not self.sql.conn.in_transaction
        if self.outer:
            self.sql.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self.outer:
            return
        if kind is not None:
            with suppress(sqlite3.Error):
                self.sql.conn.execute("ROLLBACK")
            return
        try:
            self.sql.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                self.sql.conn.execute("ROLLBACK")
            raise
