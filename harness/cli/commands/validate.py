"""`harness validate`: check every protocol file; exit 0 valid, 2 invalid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.errors import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check feature_list.json, progress.md, harness.toml and init.sh",
        description="Check every protocol file and list every error (exit 0 valid, 2 invalid).",
    )
    parser.add_argument(
        "--json", action="store_true", help="print {ok, errors: [{file, where, why, fix}], ...}"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from artifacts.validate import check_project

    root = Path(args.project)
    report = check_project(root)
    if getattr(args, "json", False):
        import json

        errors = [
            {"file": e.file, "where": e.where, "why": e.why, "fix": e.fix, "message": str(e)}
            for e in report.errors
        ]
        out = {"ok": not errors, "errors": errors, "warnings": report.warnings}
        if not errors:
            out["summary"] = report.summary()
        print(json.dumps(out, indent=2))
        return int(ExitCode.INVALID if errors else ExitCode.OK)
    for warning in report.warnings:
        print(f"harness: warning: {warning}", file=sys.stderr)
    if report.errors:
        count = len(report.errors)
        print(f"harness: {count} error(s) in {root}:", file=sys.stderr)
        for error in report.errors:
            print(f"\n- {error}", file=sys.stderr)
        return int(ExitCode.INVALID)
    print(report.summary())
    return int(ExitCode.OK)
