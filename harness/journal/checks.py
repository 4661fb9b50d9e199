"""The checks every backend's journal shares (``harness journal verify``): blobs, session
shapes and the HMAC chain, read through a reader's ``signed_rows``, ``cache_entries`` and
``blob_refs``. Nothing is ever changed."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from harness.errors import JournalError, JournalForged
from harness.journal.chain import check

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harness.journal.chain import Chain
    from harness.journal.records import SignedRow
    from harness.journal.rows import StepRow


class VerifyReport(BaseModel):
    """What verify found: ``problems`` is empty when the journal is sound.

    ``verdict`` names the worst finding: ``ok``, ``read-only`` (could not be read for a
    storage reason: a read-only disk, a database unreachable; not damage), ``key-missing``,
    ``forged`` (a row fails its chain) or ``damaged`` (the store's own check fails, or a
    blob does not match its digest).
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


class Checked(Protocol):
    """What verify reads of a backend's reader."""

    journal_id: str | None
    where: str

    def chain(self) -> Chain: ...

    def signed_rows(self) -> Iterator[SignedRow]: ...

    def steps(self) -> list[StepRow]: ...

    def cache_entries(self) -> Iterator[tuple[Any, ...]]: ...

    def blob_refs(self) -> tuple[list[str], list[str]]: ...

    def close(self) -> None: ...


def check_reader(reader: Checked, report: VerifyReport, *, blob_check: Any) -> None:
    """Blobs, session shapes and the chain of a journal a reader reads."""
    recorded, missing = reader.blob_refs()
    for digest in recorded:
        report.blobs += 1
        problem = blob_check(digest)
        if problem:
            report.add("damaged", problem)
    for digest in missing:
        report.add("damaged", f"steps refer to blob {digest}, which is not recorded")
    live = sorted(reader.steps(), key=lambda s: (s.run_id, s.session, s.seq))
    _check_shapes([(s.run_id, s.session, s.seq, s.status, s.kind) for s in live], report)
    report.journal_id = reader.journal_id
    if report.journal_id is None:
        report.notes.append(
            "the journal predates the HMAC chain (schema version 1): its rows are not "
            "signed yet; the next `harness run` signs them as they stand"
        )
        return
    try:
        chain = reader.chain()
    except JournalError as error:
        report.add("key-missing", error.message)
        return
    _check_chain(list(reader.signed_rows()), reader, chain, report)


def _check_shapes(rows: list[tuple[str, int, int, str, str]], report: VerifyReport) -> None:
    last: tuple[str, int] | None = None
    expected = 1
    pending: str | None = None
    for run_id, session, seq, status, kind in rows:
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


def _check_chain(
    rows: list[SignedRow], reader: Checked, chain: Chain, report: VerifyReport
) -> None:
    """Every live row against its chain, every superseded row and cache entry its MAC."""
    last: tuple[str, int] | None = None
    link = b""
    for row in rows:
        rec = row.record
        if row.superseded:
            expected = chain.result(rec.mac_start or b"", rec.result)
            if rec.mac is None or not hmac.compare_digest(rec.mac, expected):
                report.add("forged", f"step {row.run_id}/{row.session}/{rec.seq} (superseded) "
                           "fails its MAC")  # fmt: skip
            continue
        if (row.run_id, row.session) != last:
            last, link = (row.run_id, row.session), chain.seed(row.run_id, row.session)
        try:
            link = check(chain, link, row.run_id, row.session, rec, reader.where)
        except JournalForged as error:
            report.add("forged", f"step {error.step} (run/session/seq) {error.what}")
            link = rec.mac_start if rec.mac_start is not None else link
    for kind, name, digest, version, output, blob, mac in reader.cache_entries():
        expected = chain.cache(kind, name, digest, version, output, blob)
        if mac is None or not hmac.compare_digest(mac, expected):
            report.add("forged", f"cache entry {kind}/{name} ({digest[:12]}) fails its MAC")
