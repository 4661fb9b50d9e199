"""The SQLite file: schema, opening (read-write or read-only) and damage checks.

The file is never deleted or rewritten when it looks wrong: every check happens before
the first write, and a bad file raises :class:`JournalDamaged` saying what to do.
"""

from __future__ import annotations

import os
import sqlite3
import struct
from pathlib import Path

from harness.errors import JournalDamaged, JournalError

SCHEMA_VERSION = 1
# Opening runs PRAGMA quick_check (about 3 ms per MB here) on files up to this size; larger
# journals rely on SQLite's own checks as pages are read, and `harness journal verify`.
QUICK_CHECK_LIMIT = 8 * 1024 * 1024
DB_NAME = "journal.db"
HEADER = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, outcome TEXT,
    meta TEXT, report TEXT, created_at REAL NOT NULL, finished_at REAL, holder_pid INTEGER
);
CREATE TABLE sessions (
    run_id TEXT NOT NULL, number INTEGER NOT NULL, status TEXT NOT NULL, outcome TEXT,
    meta TEXT, summary TEXT, started_at REAL NOT NULL, ended_at REAL,
    PRIMARY KEY (run_id, number)
);
CREATE TABLE steps (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL, session INTEGER NOT NULL, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, input_digest TEXT NOT NULL,
    inputs TEXT, inputs_blob TEXT,
    status TEXT NOT NULL CHECK (status IN ('started', 'ended', 'failed', 'superseded')),
    output TEXT, output_blob TEXT, error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1, idempotent INTEGER NOT NULL DEFAULT 1,
    started_at REAL NOT NULL, ended_at REAL, duration REAL,
    tokens INTEGER, cost_usd REAL, cached INTEGER NOT NULL DEFAULT 0,
    gen INTEGER NOT NULL DEFAULT 0  -- 0 for live rows; a superseded row gets its own id
);
CREATE UNIQUE INDEX steps_key ON steps (run_id, session, seq, gen);
CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE cache (
    kind TEXT NOT NULL, name TEXT NOT NULL, input_digest TEXT NOT NULL, version TEXT NOT NULL,
    output TEXT, output_blob TEXT, created_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, name, input_digest, version)
);
CREATE TABLE cache_stats (
    kind TEXT NOT NULL, name TEXT NOT NULL, hits INTEGER NOT NULL DEFAULT 0,
    misses INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, name)
);
"""

MOVE_ASIDE = (
    "Move it aside (e.g. `mv {path} {path}.damaged`) to start a new journal, or restore it "
    "from a backup; harness left it unchanged."
)


def damaged(path: Path, what: str) -> JournalDamaged:
    """A JournalDamaged naming the file, what is wrong and what to do."""
    return JournalDamaged(f"journal {path} is damaged: {what}. " + MOVE_ASIDE.format(path=path))


def check_header(path: Path) -> None:
    """Reject a file that is not an SQLite database or is shorter than its header says."""
    try:
        with path.open("rb") as handle:
            head = handle.read(100)
        size = path.stat().st_size
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {error.strerror}") from error
    if len(head) < 100:
        raise damaged(path, f"the file is truncated ({size} bytes, not even a header)")
    if head[:16] != HEADER:
        raise damaged(path, "it is not an SQLite database (the header is garbage)")
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change_counter, page_count = struct.unpack(">II", head[24:32])
    valid_for = struct.unpack(">I", head[92:96])[0]
    if page_size < 512 or page_size & (page_size - 1):
        raise damaged(path, f"the header is garbage (page size {page_size})")
    if valid_for == change_counter and page_count * page_size > size:
        raise damaged(
            path,
            f"the file is truncated ({size} bytes, the header says {page_count * page_size})",
        )


def _configure(conn: sqlite3.Connection, synchronous: str) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=OFF")


def _check_version(conn: sqlite3.Connection, path: Path) -> None:
    try:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise damaged(path, f"SQLite cannot read it ({error})") from error
    version = row[0] if row else None
    if version is None:
        raise damaged(path, "it has no schema version")
    if version > SCHEMA_VERSION:
        raise JournalDamaged(
            f"journal {path} has schema version {version}, newer than this harness "
            f"understands ({SCHEMA_VERSION}): upgrade harness to read it. "
            + MOVE_ASIDE.format(path=path)
        )


def _create(path: Path, synchronous: str) -> None:
    """Create a fresh journal beside ``path`` and rename it in place, so a crash never
    leaves a half-made file behind."""
    tmp = path.with_name(f"{path.name}.new-{os.getpid()}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces: if another process made it first, keep theirs
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not path.exists():
            os.replace(tmp, path)
    tmp.unlink(missing_ok=True)


def open_db(state_dir: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """The read-write connection to ``<state_dir>/journal.db``, created if absent."""
    synchronous = synchronous.upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise JournalError(f"journal synchronous must be NORMAL or FULL, not {synchronous!r}")
    path = state_dir / DB_NAME
    state_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path, synchronous)
    check_header(path)
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=256
    )
    try:
        _check_version(conn, path)
        _configure(conn, synchronous)
        if path.stat().st_size <= QUICK_CHECK_LIMIT:
            conn.execute("PRAGMA quick_check(1)").fetchone()
    except JournalError:
        conn.close()
        raise
    except sqlite3.DatabaseError as error:
        conn.close()
        raise damaged(path, f"SQLite cannot read it ({error})") from error
    return conn


def open_db_readonly(state_dir: Path) -> sqlite3.Connection:
    """A read-only connection that never blocks the writer (WAL readers take no locks)."""
    path = state_dir / DB_NAME
    if not path.exists():
        raise JournalError(f"no journal at {path}: nothing has run in this project yet")
    check_header(path)
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        conn.execute("PRAGMA query_only=ON")
        _check_version(conn, path)
    except JournalError:
        conn.close()
        raise
    return conn
