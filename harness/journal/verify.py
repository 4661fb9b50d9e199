"""`harness journal verify`: SQLite integrity, blob digests, and the shape of every session."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pydantic import BaseModel

from harness.errors import JournalError
from harness.journal.blobs import BlobStore
from harness.journal.store import DB_NAME, open_db_readonly


class VerifyReport(BaseModel):
    """What verify found: ``problems`` is empty when the journal is sound."""

    path: str
    steps: int = 0
    blobs: int = 0
    problems: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(state_dir: Path) -> VerifyReport:
    """Check ``<state_dir>/journal.db`` read-only; never changes anything."""
    report = VerifyReport(path=str(state_dir / DB_NAME))
    try:
        conn = open_db_readonly(state_dir)
    except JournalError as error:
        report.problems.append(error.message)
        return report
    try:
        _check(conn, BlobStore(state_dir / "blobs"), report)
    except sqlite3.DatabaseError as error:
        report.problems.append(f"SQLite cannot read the journal: {error}")
    finally:
        conn.close()
    return report


def _check(conn: sqlite3.Connection, blobs: BlobStore, report: VerifyReport) -> None:
    result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        report.problems.extend(f"integrity_check: {line}" for line in result[:20])
        return
    for (digest,) in conn.execute("SELECT digest FROM blobs"):
        report.blobs += 1
        problem = blobs.check(digest)
        if problem:
            report.problems.append(problem)
    for column in ("inputs_blob", "output_blob"):
        for (digest,) in conn.execute(
            f"SELECT DISTINCT {column} FROM steps WHERE {column} IS NOT NULL "
            f"AND {column} NOT IN (SELECT digest FROM blobs)"
        ):
            report.problems.append(f"steps refer to blob {digest}, which is not recorded")
    last: tuple[str, int] | None = None
    expected = 1
    pending: str | None = None
    for run_id, session, seq, status in conn.execute(
        "SELECT run_id, session, seq, status FROM steps WHERE gen = 0 ORDER BY run_id, session, seq"
    ):
        report.steps += 1
        if (run_id, session) != last:
            last, expected, pending = (run_id, session), 1, None
        where = f"run {run_id} session {session} step {seq}"
        if pending is not None:
            report.problems.append(f"{pending} has no end but is not the session's last step")
            pending = None
        if seq != expected:
            report.problems.append(f"{where}: expected step {expected} (seq is not continuous)")
        expected = seq + 1
        if status == "started":
            pending = where
        elif status not in ("ended", "failed"):
            report.problems.append(f"{where}: unexpected status {status!r}")
