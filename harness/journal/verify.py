"""`harness journal verify`: SQLite integrity, the HMAC chain, blob digests, session shapes."""

from __future__ import annotations

import hmac
import sqlite3
from pathlib import Path

from pydantic import BaseModel

from harness.errors import JournalError, JournalForged, StorageError
from harness.journal import faults, keys
from harness.journal.blobs import BlobStore
from harness.journal.chain import ROW_COLUMNS, Chain, check_row
from harness.journal.store import DB_NAME, open_db_readonly, read_journal_id


class VerifyReport(BaseModel):
    """What verify found: ``problems`` is empty when the journal is sound.

    ``verdict`` names the worst finding: ``ok``, ``read-only`` (could not be read for a
    storage reason: not damage), ``key-missing``, ``forged`` (a row fails its chain) or
    ``damaged`` (SQLite's own check fails, or a blob does not match its digest).
    """

    path: str
    journal_id: str | None = None
    steps: int = 0
    blobs: int = 0
    verdict: str = "ok"
    problems: list[str] = []
    notes: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, verdict: str, problem: str) -> None:
        order = ("ok", "read-only", "key-missing", "forged", "damaged")
        if order.index(verdict) > order.index(self.verdict):
            self.verdict = verdict
        self.problems.append(problem)


def verify(state_dir: Path) -> VerifyReport:
    """Check ``<state_dir>/journal.db`` read-only; never changes anything."""
    path = state_dir / DB_NAME
    report = VerifyReport(path=str(path))
    if path.exists() and faults.probe(state_dir) is not None:
        report.notes.append(
            f"{state_dir} is read-only: it can be checked, but `harness run` cannot write "
            "there until it is writable again"
        )
    try:
        conn = open_db_readonly(state_dir)
    except StorageError as error:
        report.add("read-only", error.message)
        return report
    except JournalError as error:
        report.add("damaged", error.message)
        return report
    try:
        _check(conn, path, BlobStore(state_dir / "blobs"), report)
    except sqlite3.DatabaseError as error:
        report.add("damaged", f"SQLite cannot read the journal: {error}")
    finally:
        conn.close()
    return report


def _check(conn: sqlite3.Connection, path: Path, blobs: BlobStore, report: VerifyReport) -> None:
    result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        for line in result[:20]:
            report.add("damaged", f"integrity_check: {line}")
        return
    for (digest,) in conn.execute("SELECT digest FROM blobs"):
        report.blobs += 1
        problem = blobs.check(digest)
        if problem:
            report.add("damaged", problem)
    for column in ("inputs_blob", "output_blob"):
        for (digest,) in conn.execute(
            f"SELECT DISTINCT {column} FROM steps WHERE {column} IS NOT NULL "
            f"AND {column} NOT IN (SELECT digest FROM blobs)"
        ):
            report.add("damaged", f"steps refer to blob {digest}, which is not recorded")
    _check_shapes(conn, report)
    report.journal_id = read_journal_id(conn)
    if report.journal_id is None:
        report.notes.append(
            "the journal predates the HMAC chain (schema version 1): its rows are not "
            "signed yet; the next `harness run` signs them as they stand"
        )
        return
    try:
        chain = Chain(report.journal_id, keys.load_key(report.journal_id, path))
    except JournalError as error:
        report.add("key-missing", error.message)
        return
    _check_chain(conn, chain, path, report)


def _check_shapes(conn: sqlite3.Connection, report: VerifyReport) -> None:
    last: tuple[str, int] | None = None
    expected = 1
    pending: str | None = None
    for run_id, session, seq, status, kind in conn.execute(
        "SELECT run_id, session, seq, status, kind FROM steps WHERE gen = 0 "
        "ORDER BY run_id, session, seq"
    ):
        report.steps += 1
        if (run_id, session) != last:
            last, expected, pending = (run_id, session), 1, None
        where = f"run {run_id} session {session} step {seq}"
        if pending is not None:
            report.add("damaged", f"{pending} has no end but is not the session's last step")
            pending = None
        if seq != expected:
            report.add("damaged", f"{where}: expected step {expected} (seq is not continuous)")
        expected = seq + 1
        # A question to a human stays in flight until answered, and a session may go on
        # to ask the next (re-verifying an adoption asks them all before it parks): only
        # another kind of step left open mid-session is damage.
        if status == "started":
            pending = where if kind != "human" else None
        elif status not in ("ended", "failed"):
            report.add("damaged", f"{where}: unexpected status {status!r}")


def _check_chain(conn: sqlite3.Connection, chain: Chain, path: Path, report: VerifyReport) -> None:
    """Every live row against its chain, every superseded row and cache entry its MAC."""
    last: tuple[str, int] | None = None
    link = b""
    for row in conn.execute(
        f"SELECT run_id, session, {ROW_COLUMNS} FROM steps WHERE gen = 0 "
        "ORDER BY run_id, session, seq"
    ):
        run_id, session = row[0], row[1]
        if (run_id, session) != last:
            last, link = (run_id, session), chain.seed(run_id, session)
        try:
            link = check_row(chain, link, run_id, session, row[2:], str(path))
        except JournalForged as error:
            report.add("forged", f"step {error.step} (run/session/seq) {error.what}")
            stored = row[14]
            link = bytes(stored) if stored is not None else link
    for (
        run_id,
        session,
        seq,
        start,
        status,
        output,
        blob,
        err,
        tokens,
        cost,
        cached,
        mac,
    ) in conn.execute(
        "SELECT run_id, session, seq, mac_start, status, output, output_blob, error, tokens, "
        "cost_usd, cached, mac FROM steps WHERE gen != 0"
    ):
        expected = chain.end(bytes(start or b""), status, output, blob, err, tokens, cost, cached)
        if mac is None or not hmac.compare_digest(bytes(mac), expected):
            report.add("forged", f"step {run_id}/{session}/{seq} (superseded) fails its MAC")
    for kind, name, digest, version, output, blob, mac in conn.execute(
        "SELECT kind, name, input_digest, version, output, output_blob, mac FROM cache"
    ):
        expected = chain.cache(kind, name, digest, version, output, blob)
        if mac is None or not hmac.compare_digest(bytes(mac), expected):
            report.add("forged", f"cache entry {kind}/{name} ({digest[:12]}) fails its MAC")
