"""`harness journal verify`: the store's own integrity, the HMAC chain, blobs, session shapes.

The chain, blob and shape checks are the same for every backend (``checks``); SQLite adds
its own integrity check and must report on a file too damaged to open
(``sqlite.verify``). Nothing is ever changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import JournalError, StorageError
from harness.journal.checks import Checked, VerifyReport, check_reader
from harness.journal.location import Location, as_location, open_reader
from harness.journal.sqlite.verify import verify_file

__all__ = ["VerifyReport", "verify"]


def verify(where: Location | Path) -> VerifyReport:
    """Check the journal at ``where`` read-only; never changes anything."""
    where = as_location(where)
    if where.backend == "sqlite":
        return verify_file(where.state_dir)
    report = VerifyReport(path=where.describe())
    try:
        reader: Any = _open(where)
    except StorageError as error:
        report.add("read-only", error.message)
        return report
    except JournalError as error:
        report.add("damaged", error.message)
        return report
    try:
        check_reader(reader, report, blob_check=lambda digest: _blob_problem(reader, digest))
    finally:
        reader.close()
    return report


def _open(where: Location) -> Checked:

    return open_reader(where)  # type: ignore[return-value]


def _blob_problem(reader: Any, digest: str) -> str | None:
    try:
        reader.get_blob(digest)
    except JournalError as error:
        return error.message
    return None
