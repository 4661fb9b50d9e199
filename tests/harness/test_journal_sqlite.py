"""What only the SQLite store has: WAL readers that never block the writer, the synchronous
mode, blob files, and the version-1 journal signed as it stands."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.errors import JournalError
from harness.journal import Journal
from harness.journal.sqlite.store import SqliteReader, SqliteStore, db_path
from harness.journal.verify import verify


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / ".harness"


def record(state: Path, outputs: list[dict[str, int]]) -> str:
    with Journal.open(state) as journal:
        run = journal.start_run()
        s = run.session(1)
        for i, out in enumerate(outputs):
            s.step("tool", f"t{i}", {"i": i}, lambda out=out: out)
        return run.id


def test_reader_does_not_block_the_writer(state: Path) -> None:
    with Journal.open(state) as journal:
        s = journal.start_run().session(1)
        s.step("tool", "a", {}, lambda: 1)
        reader = SqliteReader(state)
        reader.sql.conn.execute("BEGIN")
        assert len(reader.steps()) == 1  # holds a read snapshot
        s.step("tool", "b", {}, lambda: 2)  # the writer is not blocked
        assert len(reader.steps()) == 1
        reader.sql.conn.execute("COMMIT")
        assert len(reader.steps()) == 2
        with pytest.raises(sqlite3.OperationalError):
            reader.sql.conn.execute("DELETE FROM steps")
        reader.close()


def test_synchronous_full_is_applied_and_bad_values_refused(state: Path) -> None:
    store = SqliteStore(state, synchronous="FULL")
    assert store.sql.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert store.sql.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    store = SqliteStore(state)
    assert store.sql.conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    store.close()
    with pytest.raises(JournalError, match="NORMAL or FULL"):
        Journal.open(state, synchronous="OFF")


def test_large_payloads_are_files_beside_the_journal(state: Path) -> None:
    big = "y" * 40_000
    with Journal.open(state) as journal:
        s = journal.start_run().session(1)
        assert s.step("tool", "big", {"blob": big}, lambda: big) == big
    assert len([p for p in (state / "blobs").rglob("*") if p.is_file()]) == 2
    assert verify(state).ok


def test_a_version_1_journal_is_signed_as_it_stands(state: Path) -> None:
    run_id = record(state, [{"exit_code": 0}, {"exit_code": 1}])
    conn = sqlite3.connect(db_path(state))
    conn.executescript(
        "UPDATE schema_version SET version = 1; DROP TABLE meta;"
        "ALTER TABLE steps DROP COLUMN mac_start; ALTER TABLE steps DROP COLUMN mac;"
        "ALTER TABLE cache DROP COLUMN mac;"
    )
    conn.close()
    assert any("predates the HMAC chain" in n for n in verify(state).notes)
    with Journal.open(state) as journal:
        s = journal.resume_run(run_id).session(1)
        assert s.step("tool", "t0", {"i": 0}, lambda: {}) == {"exit_code": 0}
        assert s.step("tool", "t1", {"i": 1}, lambda: {}) == {"exit_code": 1}
        assert s.step("tool", "t2", {"i": 2}, lambda: {"new": 2}) == {"new": 2}
    assert verify(state).ok
