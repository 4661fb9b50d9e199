"""`harness runs`: every run of the project: id, kind, started, outcome, sessions, cost."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from harness.errors import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list the runs (id, started, outcome, sessions, tokens, cost)",
        description="Every run in the journal, oldest first, read-only. A run id names a run "
        "for `harness log --run ID` and `harness show --run ID SESSION:SEQ`.",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.set_defaults(func=run)


def collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    from harness.cli.reading import location, open_reader
    from harness.journal.protocol import journal_exists
    from harness.journal.state import state_of

    if not journal_exists(location(args)):
        return []
    rows = []
    with open_reader(args) as journal:
        sessions = journal.sessions()
        for run in journal.runs():  # read once: a run that starts meanwhile is not half-seen
            state = state_of(journal, run)
            tokens, cost = journal.usage(run.id)
            rows.append(
                {
                    "id": run.id,
                    "kind": run.kind,
                    "started": run.created_at,
                    "finished": run.finished_at,
                    "state": state.state,
                    "outcome": state.outcome if state.state == "finished" else state.words(),
                    "sessions": sum(1 for s in sessions if s.run_id == run.id),
                    "tokens": tokens,
                    "cost_usd": round(cost, 6),
                }
            )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = collect(args)
    if args.json:
        print(json.dumps(rows, indent=2))
        return int(ExitCode.OK)
    if not rows:
        from pathlib import Path

        from harness.project_lock import already_running, live_run
        from initializer.in_flight import live_init, still_running

        root = Path(args.project).absolute()
        pid, driver = live_init(root), live_run(root)
        if pid is not None:  # an init in flight that has not recorded its run yet
            print(f"No runs yet: {still_running(root, pid)}.")
        elif driver is not None:  # a demo writing its files, a run before its first record
            print(f"No runs yet: {already_running(root, driver)}.")
        else:
            print("No runs yet: `harness init --spec SPEC.md`, then `harness run`.")
        return int(ExitCode.OK)
    header = ("RUN", "KIND", "STARTED", "OUTCOME", "SESSIONS", "TOKENS", "COST")
    table = [header]
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started"]))
        table.append(
            (
                r["id"],
                r["kind"],
                started,
                str(r["outcome"]),
                str(r["sessions"]),
                str(r["tokens"]),
                f"${r['cost_usd']:.4f}",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return int(ExitCode.OK)
