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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from artifacts.validate import check_project

    root = Path(args.project)
    report = check_project(root)
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
