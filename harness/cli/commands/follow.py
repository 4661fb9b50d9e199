"""`harness log --follow`: tail the journal while a run goes (read-only, polling)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from harness.errors import ExitCode

POLL_S = 0.25


def follow(args: argparse.Namespace, *, poll_s: float = POLL_S) -> int:
    """Print each step of the run once it has ended (or failed, or waits), as it happens.

    Follows the newest run (or ``--run``), and the run a new `harness run` starts while
    following. Stops when the followed run is finished and nobody drives it any more.
    """
    from harness.cli.commands.log import open_reader, render, step_json

    state = Path(args.project).absolute() / ".harness"
    while not (state / "journal.db").exists():  # follow a project whose first run starts now
        time.sleep(poll_s)
    shown: set[int] = set()
    run_id: str | None = args.run
    header = not args.json
    while True:
        with open_reader(args) as journal:
            current = run_id or journal.latest_run()
            if current is None:
                time.sleep(poll_s)
                continue
            rows = journal.steps(current, args.session)
            runs = {r.id: r for r in journal.runs()}
            driven = journal.holder(current) is not None
        for row in rows:
            if row.rowid in shown or row.status == "started":
                continue
            shown.add(row.rowid)
            if args.json:
                print(json.dumps(step_json(row)), flush=True)
            else:
                text = render(current, [row]).splitlines()
                if header:
                    print(text[1], flush=True)  # the column names, once
                    header = False
                print(text[2], flush=True)
        info = runs.get(current)
        if info is not None and not driven and (info.status == "finished" or rows):
            if args.run or not _newer_run_started(args, current):
                return int(ExitCode.OK)
            run_id = None
            shown.clear()
        time.sleep(poll_s)
        sys.stdout.flush()


def _newer_run_started(args: argparse.Namespace, current: str) -> bool:
    from harness.cli.commands.log import open_reader

    with open_reader(args) as journal:
        latest = journal.latest_run()
    return latest is not None and latest != current
