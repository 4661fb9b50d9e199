"""`harness log --follow`: tail the journal while a run goes (read-only, polling)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from harness.errors import ExitCode

POLL_S = 0.25


def follow(args: argparse.Namespace, *, poll_s: float = POLL_S) -> int:
    """Print each step of the run once it has ended (or failed, or waits), as it happens.

    Follows the newest run (or ``--run``), and the run a new `harness run` starts while
    following. ``--limit N`` first shows the last N steps already there (as `tail -n N
    -f`). A run nobody drives that has not finished (parked, interrupted, between two
    processes of a resume) is still followed, and said once on stderr; it stops when the
    followed run has finished, saying how (Ctrl-C stops it sooner).
    """
    from harness.cli.reading import location, open_reader, render, step_json
    from harness.journal.protocol import journal_exists

    where = location(args)
    while not journal_exists(where):  # follow a project whose first run starts now
        time.sleep(poll_s)
    shown: set[int] = set()
    run_id: str | None = args.run
    header = not args.json
    first = True
    said = ""
    while True:
        with open_reader(args) as journal:
            current = run_id or journal.latest_run()
            if current is None:
                time.sleep(poll_s)
                continue
            rows = [r for r in journal.steps(current, args.session) if r.status != "started"]
            runs = {r.id: r for r in journal.runs()}
            driven = journal.holder(current) is not None
        if first and args.limit is not None:
            old = rows[: -args.limit] if args.limit > 0 else rows
            shown.update(r.rowid for r in old)  # only the last N of what is already there
        first = False
        for row in rows:
            if row.rowid in shown:
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
        state_now = _state(info, driven)
        if state_now != said:
            said = state_now
            print(f"harness log: following run {current}: {state_now}", file=sys.stderr)
        if info is not None and info.status == "finished" and not driven:
            if args.run or not _newer_run_started(args, current):
                return int(ExitCode.OK)
            run_id = None
            shown.clear()
            said = ""
        time.sleep(poll_s)
        sys.stdout.flush()


def _state(info: object, driven: bool) -> str:
    """The followed run's state, in the words `harness status` uses."""
    if info is None:
        return "starting"
    if driven:
        return "running"
    if getattr(info, "status", "") == "finished":
        return f"finished: {getattr(info, 'outcome', None) or '?'}"
    outcome = getattr(info, "outcome", None)
    waiting = {"waiting_for_human": "waiting for a human", "waiting": "waiting"}.get(
        outcome or "", "interrupted"
    )
    return (
        f"{waiting}, nobody drives it: still following until it resumes and finishes (Ctrl-C stops)"
    )


def _newer_run_started(args: argparse.Namespace, current: str) -> bool:
    from harness.cli.reading import open_reader

    with open_reader(args) as journal:
        latest = journal.latest_run()
    return latest is not None and latest != current
