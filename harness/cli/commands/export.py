"""`harness export --jsonl [FILE]`: every step with inputs and outputs, one JSON line each."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from harness.cli.reading import open_reader
from harness.errors import ArtifactError, ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export every journal step (inputs and outputs) as JSON lines",
        description="Every step of every run (or of --run) with its inputs, output or error, "
        "one JSON object per line: for analysis and as training data. Secrets were redacted "
        "before they reached the journal.",
    )
    parser.add_argument("--jsonl", action="store_true", required=True, help="JSON lines format")
    parser.add_argument("file", nargs="?", help="write here (default: standard output)")
    parser.add_argument("--run", metavar="ID", help="only this run")
    parser.set_defaults(func=run)


def export(args: argparse.Namespace, out: TextIO) -> int:
    count = 0
    with open_reader(args) as journal:
        for row in journal.steps(args.run):
            detail = journal.step_detail(row.run_id, row.session, row.seq)
            if detail is not None:
                out.write(json.dumps(detail.as_json(), ensure_ascii=False) + "\n")
                count += 1
    return count


def run(args: argparse.Namespace) -> int:
    if args.file is None:
        export(args, sys.stdout)
        return int(ExitCode.OK)
    path = Path(args.file)
    try:
        with path.open("w", encoding="utf-8") as out:
            count = export(args, out)
    except OSError as error:
        raise ArtifactError(path, "(whole file)", f"cannot write: {error.strerror}") from error
    print(f"exported {count} step(s) to {path}", file=sys.stderr)
    return int(ExitCode.OK)
