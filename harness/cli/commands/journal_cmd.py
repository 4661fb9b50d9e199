"""`harness journal verify`: integrity check of .harness/journal.db and its blobs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "journal",
        help="journal maintenance (verify)",
        description="Maintenance of the step journal under .harness/.",
    )
    verbs = parser.add_subparsers(dest="journal_verb", metavar="VERB", required=True)
    verify = verbs.add_parser(
        "verify",
        help="check the journal: SQLite integrity, blob digests, step sequences",
        description="Read-only check: PRAGMA integrity_check, every blob against its sha256, "
        "steps without an end only as the last of a session, continuous step numbers. "
        "Exit 0 when sound, 2 when damaged (with a report). Changes nothing.",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from harness.journal.verify import verify

    report = verify(Path(args.project).absolute() / ".harness")
    if args.json:
        print(json.dumps(report.model_dump() | {"ok": report.ok}))
    elif report.ok:
        print(f"journal {report.path}: ok ({report.steps} steps, {report.blobs} blobs)")
    else:
        print(f"journal {report.path}: DAMAGED ({len(report.problems)} problem(s))")
        for problem in report.problems:
            print(f"  - {problem}")
        print(
            "Nothing was changed. Move the journal aside to start over, or restore it from "
            "a backup."
        )
    return int(ExitCode.OK if report.ok else ExitCode.INVALID)
