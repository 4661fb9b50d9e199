"""`harness journal verify`: integrity check of the journal (SQLite under .harness/, or the
PostgreSQL database of `[journal] url`), its chain and blobs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import ExitCode

ADVICE = {
    "forged": "Rows were written or reordered outside harness: `harness run` refuses to replay "
    "them. Restore the journal from a backup or a saved state (`harness state load FILE`); "
    "if there is none, move it aside (`mv {path} {path}.forged`) to start a new one.",
    "damaged": "The store's own check fails. Restore the journal from a backup or a saved state "
    "(`harness state load FILE`); only if there is none, move it aside "
    "(`mv {path} {path}.damaged`) to start a new one.",
    "key-missing": "",
    "read-only": "The journal was not judged: this is not damage. Check it where the "
    "project is writable.",
}
VERDICTS = {"forged": "FORGED", "damaged": "DAMAGED", "key-missing": "KEY MISSING",
            "read-only": "READ-ONLY"}  # fmt: skip


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "journal",
        help="journal maintenance (verify)",
        description="Maintenance of the step journal (SQLite under .harness/, or the "
        "PostgreSQL database of `[journal] url`).",
    )
    verbs = parser.add_subparsers(dest="journal_verb", metavar="VERB", required=True)
    verify = verbs.add_parser(
        "verify",
        help="check the journal: store integrity, HMAC chain, blob digests, step sequences",
        description="Read-only check: SQLite's integrity_check (for SQLite), every row against "
        "its HMAC chain "
        "(the key is in the user's state directory), every blob against its sha256, steps "
        "without an end only as the last of a session, continuous step numbers. Exit 0 when "
        "sound, 2 when damaged, forged or its key is missing, 4 when it cannot be read for a "
        "storage reason (read-only, or the database unreachable). Changes nothing.",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from harness.config import journal_location
    from harness.journal.verify import verify

    report = verify(journal_location(Path(args.project).absolute()))
    code = ExitCode.OK
    if not report.ok:
        code = ExitCode.WAITING if report.verdict == "read-only" else ExitCode.INVALID
    if args.json:
        print(json.dumps(report.model_dump() | {"ok": report.ok}))
        return int(code)
    if report.ok:
        chain = "chain valid" if report.journal_id else "not signed yet"
        print(f"journal {report.path}: ok ({report.steps} steps, {report.blobs} blobs, {chain})")
    else:
        verdict = VERDICTS.get(report.verdict, report.verdict.upper())
        print(f"journal {report.path}: {verdict} ({len(report.problems)} problem(s))")
        for problem in report.problems:
            print(f"  - {problem}")
        advice = ADVICE.get(report.verdict, "").format(path=report.path)
        print(("Nothing was changed. " + advice).strip())
    for note in report.notes:
        print(f"note: {note}")
    return int(code)
