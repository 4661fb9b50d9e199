"""`harness journal verify` of the SQLite file: SQLite's integrity check first, then the
checks every backend shares (``journal.checks``). Reports on a file too damaged to open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.errors import JournalError, StorageError
from harness.journal import faults
from harness.journal.checks import VerifyReport, check_reader
from harness.journal.sqlite.store import SqliteReader, db_path


def verify_file(state_dir: Path) -> VerifyReport:
    """Check ``<state_dir>/journal.db`` read-only; never changes anything."""
    path = db_path(state_dir)
    report = VerifyReport(path=str(path))
    if path.exists() and faults.probe(state_dir) is not None:
        report.notes.append(
            f"{state_dir} is read-only: it can be checked, but `harness run` cannot write "
            "there until it is writable again"
        )
    try:
        reader = SqliteReader(state_dir)
    except StorageError as error:
        report.add("read-only", error.message)
        return report
    except JournalError as error:
        report.add("damaged", error.message)
        return report
    try:
        result = [row[0] for row in reader.sql.conn.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            for line in result[:20]:
                report.add("damaged", f"integrity_check: {line}")
            return report
        check_reader(reader, report, blob_check=reader.blobs.check)
    except sqlite3.DatabaseError as error:
        report.add("damaged", f"SQLite cannot read the journal: {error}")
    finally:
        reader.close()
    return report
