"""The SQLite backend: ``<state_dir>/journal.db`` (WAL), blob files, run lock files."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import JournalLost
from harness.journal import faults
from harness.journal.blobs import BlobStore
from harness.journal.chain import Chain
from harness.journal.keys import KEY_FILES, KeySource
from harness.journal.lock import RunLock
from harness.journal.sql.reader import SqlReader
from harness.journal.sql.store import INSERT_STARTED, SqlStore, ending
from harness.journal.sqlite.connection import SqliteSql
from harness.journal.sqlite.schema import DB_NAME, open_db, open_db_readonly, read_journal_id

if TYPE_CHECKING:
    from harness.journal.records import Begin, End


# The per-step statements as Python's sqlite3 binds them fastest. It binds int, float, str
# and bytearray as they are, but sends None and bytes through its adapter lookup first (a
# failed attribute lookup that raises and clears an AttributeError): about 0.4 us each, and
# a quick step had six (a start's MAC and empty blob digest; an end's MAC, blob digest,
# tokens and cost). Here an empty field is the NULL literal of the statement and a MAC goes
# as bytearray: the same row is stored (a BLOB, a NULL), with none of those lookups. Every
# start and end of the SQLite store goes this way (a deferred one, the flusher's, a model
# step's), so there is one statement per row shape.
_STARTED_INLINE = (
    "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, inputs, inputs_blob, "
    "status, attempts, idempotent, started_at, mac_start) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'started', 1, ?, ?, ?)"
)
_ENDED_INLINE = (
    "UPDATE steps SET status = 'ended', output = ?, output_blob = NULL, tokens = NULL, "
    "cost_usd = NULL, ended_at = ?, duration = ?, mac = ? WHERE id = ?"
)


def _started(row: Begin) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters that insert a started row (``INSERT_STARTED``'s)."""
    run_id, session, seq, kind, name, digest, inputs, blob, idempotent, at, mac = row
    if blob is None:
        return _STARTED_INLINE, (run_id, session, seq, kind, name, digest, inputs, idempotent,
                                 at, bytearray(mac))  # fmt: skip
    return INSERT_STARTED, (*row[:10], bytearray(mac))


def _ended(row_id: int, end: End) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters that record an end (``sql.store.ending``'s)."""
    status, output, blob, _, tokens, cost, _ = end.result
    if status == "ended" and blob is None and tokens is None and cost is None:
        return _ENDED_INLINE, (output, end.ended_at, end.duration, bytearray(end.mac), row_id)
    return ending(row_id, end)


def db_path(state_dir: Path) -> Path:
    """The journal's file in a state folder."""
    return Path(state_dir) / DB_NAME


def exists(state_dir: Path) -> bool:
    """Whether ``state_dir`` holds a journal (without opening, let alone creating, one)."""
    return db_path(state_dir).is_file()


class FileBlobs:
    """Blob files under ``<state_dir>/blobs``, each recorded in the ``blobs`` table."""

    def __init__(self, sql: SqliteSql, root: Path, *, fsync: bool = False) -> None:
        self.sql = sql
        self.files = BlobStore(root, fsync=fsync)

    def put(self, data: bytes) -> str:
        try:
            digest = self.files.put(data)
        except OSError as error:
            raise (faults.from_oserror(self.files.root, error) or error) from error
        self.sql.execute(
            "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (digest) DO NOTHING",
            (digest, len(data), time.time()),
        )
        return digest

    def get(self, digest: str) -> bytes:
        return self.files.get(digest)

    def check(self, digest: str) -> str | None:
        return self.files.check(digest)


class FileLocks:
    """Run locks as ``flock``ed files under ``<state_dir>/locks`` (released by the kernel
    when the holder dies)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._held: dict[str, RunLock] = {}

    def lock(self, run_id: str) -> None:
        if run_id not in self._held:
            self._held[run_id] = RunLock.acquire(self.state_dir, run_id)

    def unlock(self, run_id: str) -> None:
        held = self._held.pop(run_id, None)
        if held is not None:
            held.release()

    def holder(self, run_id: str) -> int | None:
        return RunLock.holder(self.state_dir, run_id)

    def close(self) -> None:
        for run_id in list(self._held):
            self.unlock(run_id)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class SqliteReader(SqlReader):
    """A read-only connection: never blocks the writer (WAL readers take no locks)."""

    sql: SqliteSql

    def __init__(self, state_dir: Path) -> None:
        state_dir = Path(state_dir)
        sql = SqliteSql(open_db_readonly(state_dir), db_path(state_dir))
        try:
            journal_id = read_journal_id(sql.conn)
        except sqlite3.DatabaseError as error:  # a damaged page: SQLite's own verdict
            sql.close()
            raise faults.classify(sql.path, error) from error
        super().__init__(sql, FileBlobs(sql, state_dir / "blobs"), FileLocks(state_dir),
                         journal_id)  # fmt: skip
        self.state_dir = state_dir


class SqliteStore(SqlStore):
    """The journal a process writes, in SQLite."""

    sql: SqliteSql

    def __init__(
        self, state_dir: Path, *, synchronous: str = "NORMAL", source: KeySource = KEY_FILES
    ) -> None:
        """Open (or create), checked first: StorageError on a full or read-only disk,
        JournalDamaged when SQLite's check fails, JournalKeyMissing. The chain is
        ``self.opened_chain`` (its key was read to vouch for the file)."""
        state_dir = Path(state_dir)
        conn, chain = open_db(state_dir, synchronous=synchronous, source=source)
        sql = SqliteSql(conn, db_path(state_dir))
        fsync = synchronous.upper() == "FULL"
        super().__init__(sql, FileBlobs(sql, state_dir / "blobs", fsync=fsync),
                         FileLocks(state_dir), chain.journal_id)  # fmt: skip
        self.state_dir = state_dir
        self.opened_chain: Chain = chain
        self.key_source = source
        self._identity = _file_identity(sql.path)

    def begin(self, row: Begin, end: End | None = None) -> int:
        if end is not None:  # a cache hit: an ended row at once
            return super().begin(row, end)
        return self.sql.insert(*_started(row))

    def end(self, row_id: int, end: End) -> None:
        self.sql.execute(*_ended(row_id, end))

    def end_and_begin(self, row_id: int, end: End, row: Begin) -> int:
        return self.sql.update_then_insert(_ended(row_id, end), *_started(row))

    def check_present(self) -> None:
        """JournalLost if the file this journal writes was removed or replaced on disk
        (``.harness/`` deleted mid-run): what it writes from then on is lost."""
        now = _file_identity(self.sql.path)
        if now is None or now != self._identity:
            what = "removed" if now is None else "replaced by another file"
            raise JournalLost(
                f"journal {self.sql.path} (id {self.journal_id}) was {what} while this run was "
                "writing it: the steps recorded since are lost, and evidence citing them cannot "
                "be checked. `harness run` starts again with the journal now there, and "
                "verifies again every feature whose evidence cites the lost one"
            )

    def close(self) -> None:
        super().close()
        if not self.sql.faulted:
            # The files as this process leaves them: the next open may trust its check.
            faults.write_stamp(self.sql.path, self.opened_chain.key)
