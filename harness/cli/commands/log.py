"""`harness log`: the steps of a run as a table (or one JSON object per line)."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterable
from typing import Any

from harness.cli.reading import open_reader, pick_run, render, state_dir, step_json
from harness.errors import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "log",
        help="list the journal's steps (seq, kind, name, duration, tokens, cost, status)",
        description="The steps of a run from the journal (SQLite under .harness/, or the "
        "PostgreSQL database of `[journal] url`), read-only: "
        "never blocks a running harness. Defaults to the newest run that did something "
        "(`harness runs` lists them).",
    )
    parser.add_argument("--run", metavar="ID", help="the run (default: the newest run with steps)")
    parser.add_argument("--session", type=int, metavar="N", help="only session N")
    parser.add_argument("--limit", type=int, metavar="N", help="only the last N steps")
    parser.add_argument(
        "--superseded", action="store_true", help="include steps superseded by a divergence"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per step per line")
    parser.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing steps as they end, until the followed run finishes (a parked "
        "run is followed on, and said; --limit N shows the last N steps first; Ctrl-C stops)",
    )
    parser.set_defaults(func=run)


def write_lines(lines: Iterable[str], chunk: int = 1000) -> None:
    """Print ``lines``, ``chunk`` of them a write: one write a line costs a system call each
    when stdout is unbuffered (``PYTHONUNBUFFERED``, ``python -u``), most of `log --json`'s
    time on a long run."""
    out = sys.stdout
    it = iter(lines)
    while part := list(itertools.islice(it, chunk)):
        out.write("\n".join(part) + "\n")


def run(args: argparse.Namespace) -> int:
    if args.follow:
        from harness.cli.commands.follow import follow

        return follow(args)
    with open_reader(args) as journal:
        run_id = pick_run(journal, args.run, state_dir(args))
        if run_id is None:
            print("harness: the journal has no runs yet", file=sys.stderr)
            return int(ExitCode.OK)
        rows = journal.steps(run_id, args.session, include_superseded=args.superseded)
    if args.limit is not None:
        rows = rows[-args.limit :] if args.limit > 0 else []
    if args.json:
        write_lines(json.dumps(step_json(row)) for row in rows)
        return int(ExitCode.OK)
    print(render(run_id, rows))
    return int(ExitCode.OK)
