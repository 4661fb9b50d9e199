"""The SQLite file: schema, opening (read-write or read-only), identity and checks at open.

The file is never deleted or rewritten when it looks wrong: every check happens before
the first write. Damage is SQLite's own verdict (``faults.check``, run at every open);
a full or read-only disk is a StorageError, never "damaged".
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from harness.errors import JournalDamaged, JournalError, StorageError
from harness.journal import faults, keys
from harness.journal.chain import Chain
from harness.leftovers import sweep_temps, temp_file

SCHEMA_VERSION = 2
DB_NAME = "journal.db"

SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
    gen INTEGER NOT NULL DEFAULT 0,  -- 0 for live rows; a superseded row gets its own id
    mac_start BLOB, mac BLOB  -- the HMAC chain (chain.py)
);
CREATE UNIQUE INDEX steps_key ON steps (run_id, session, seq, gen);
CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE cache (
    kind TEXT NOT NULL, name TEXT NOT NULL, input_digest TEXT NOT NULL, version TEXT NOT NULL,
    output TEXT, output_blob TEXT, created_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0, mac BLOB,
    PRIMARY KEY (kind, name, input_digest, version)
);
CREATE TABLE cache_stats (
    kind TEXT NOT NULL, name TEXT NOT NULL, hits INTEGER NOT NULL DEFAULT 0,
    misses INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, name)
);
"""

damaged = faults.damaged


def _version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            raise damaged(path, "it has no schema version (SQLite reads it, but it is not a "
                          "harness journal)") from error  # fmt: skip
        raise faults.classify(path, error) from error
    except sqlite3.DatabaseError as error:
        raise faults.classify(path, error) from error
    version = row[0] if row else None
    if version is None:
        raise damaged(path, "it has no schema version")
    if version > SCHEMA_VERSION:
        raise JournalDamaged(
            f"journal {path} has schema version {version}, newer than this harness "
            f"understands ({SCHEMA_VERSION}): upgrade harness to read it; harness left it "
            "unchanged"
        )
    return int(version)


def read_journal_id(conn: sqlite3.Connection) -> str | None:
    """The journal's identity (None for a version-1 journal, made before the chain)."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'journal_id'").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


def _configure(conn: sqlite3.Connection, synchronous: str) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=OFF")


def _create(path: Path, source: keys.KeySource) -> None:
    """Create a fresh journal (with its identity and key) beside ``path`` and link it in
    place, so a crash never leaves a half-made file and a journal never lacks its key."""
    sweep_temps(path.parent, path.name)  # what a killed creation left (and its side files)
    fd, tmp = temp_file(path.parent, path.name)
    os.close(fd)  # an empty file: SQLite makes it a database
    journal_id = keys.new_journal_id()
    source.create(journal_id)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("INSERT INTO meta (key, value) VALUES ('journal_id', ?)", (journal_id,))
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
        source.discard(journal_id)
    except OSError:  # a file system without hard links
        if not path.exists():
            os.replace(tmp, path)
    tmp.unlink(missing_ok=True)


# The columns the version-1 upgrade signs, in the order ``sign_all`` reads them.
ROW_COLUMNS = (
    "seq, kind, name, input_digest, idempotent, status, output, output_blob, error, tokens, "
    "cost_usd, cached, mac_start, mac"
)


def _upgrade(conn: sqlite3.Connection, source: keys.KeySource) -> None:
    """Version 1 (no chain) to 2: give the journal an identity and a key, and sign the rows
    it holds as they stand (they were trusted as they stand until now)."""
    journal_id = keys.new_journal_id()
    chain = Chain(journal_id, source.create(journal_id))
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ALTER TABLE steps ADD COLUMN mac_start BLOB")
        conn.execute("ALTER TABLE steps ADD COLUMN mac BLOB")
        conn.execute("ALTER TABLE cache ADD COLUMN mac BLOB")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta (key, value) VALUES ('journal_id', ?)", (journal_id,))
        sign_all(conn, chain, ROW_COLUMNS)
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def sign_all(conn: sqlite3.Connection, chain: Chain, columns: str) -> None:
    """Compute every row's MACs as it stands (the version-1 upgrade)."""
    prev: dict[tuple[str, int], bytes] = {}
    rows = conn.execute(
        f"SELECT id, run_id, session, {columns} FROM steps ORDER BY run_id, session, gen != 0, seq"
    ).fetchall()
    for row in rows:
        row_id, run_id, session = row[0], row[1], row[2]
        seq, kind, name, digest, idempotent, status = row[3:9]
        link = prev.get((run_id, session)) or chain.seed(run_id, session)
        start = chain.start(link, run_id, session, seq, kind, name, digest, idempotent)
        if status != "superseded":
            prev[(run_id, session)] = start
        end = chain.end(start, status, row[9], row[10], row[11], row[12], row[13], row[14])
        conn.execute("UPDATE steps SET mac_start = ?, mac = ? WHERE id = ?", (start, end, row_id))
    for kind, name, digest, version, output, blob in conn.execute(
        "SELECT kind, name, input_digest, version, output, output_blob FROM cache"
    ).fetchall():
        conn.execute(
            "UPDATE cache SET mac = ? WHERE kind = ? AND name = ? AND input_digest = ? "
            "AND version = ?",
            (chain.cache(kind, name, digest, version, output, blob), kind, name, digest, version),
        )


def open_db(
    state_dir: Path, *, synchronous: str = "NORMAL", source: keys.KeySource = keys.KEY_FILES
) -> tuple[sqlite3.Connection, Chain]:
    """The read-write connection to ``<state_dir>/journal.db`` (created if absent) and its
    chain, its key from ``source``. Checked before anything is written: the disk takes a
    write, SQLite's quick_check passes, the key is here."""
    synchronous = synchronous.upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise JournalError(f"journal synchronous must be NORMAL or FULL, not {synchronous!r}")
    path = state_dir / DB_NAME
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise (faults.from_oserror(state_dir, error) or JournalError(str(error))) from error
    found = faults.probe(state_dir)
    if found is not None:
        raise found
    if not path.exists():
        _create(path, source)
    untouched = faults.identity(path)  # before SQLite opens it (reading makes a WAL)
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=256
    )
    try:
        version = _version(conn, path)
        journal_id = read_journal_id(conn)
        key = source.load(journal_id, path) if journal_id else None
        if key is None or not faults.stamp_matches(path, untouched, key):
            problems = faults.check(path)
            if problems:
                raise damaged(path, "SQLite's quick_check finds: " + "; ".join(problems[:3]))
        _configure(conn, synchronous)
        if version < SCHEMA_VERSION:
            _upgrade(conn, source)
            journal_id = read_journal_id(conn)
        if journal_id is None:
            raise damaged(path, "it has no journal id")
        chain = Chain(journal_id, key or source.load(journal_id, path))
    except (JournalError, StorageError):
        conn.close()
        raise
    except sqlite3.DatabaseError as error:
        conn.close()
        raise faults.classify(path, error) from error
    return conn, chain


def open_db_readonly(state_dir: Path) -> sqlite3.Connection:
    """A read-only connection that never blocks the writer (WAL readers take no locks)."""
    path = state_dir / DB_NAME
    if not path.exists():
        raise JournalError(f"no journal at {path}: nothing has run in this project yet")
    try:
        conn = faults.connect_readonly(path, check_same_thread=False)
    except sqlite3.DatabaseError as error:
        raise faults.classify(path, error) from error
    try:
        conn.execute("PRAGMA query_only=ON")
        _version(conn, path)
    except JournalError:
        conn.close()
        raise
    return conn
