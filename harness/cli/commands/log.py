"""`harness log`: the steps of a run as a table (or one JSON object per line)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode, HarnessError

if TYPE_CHECKING:
    from harness.journal import StepRow
    from harness.journal.protocol import JournalReader


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "log",
        help="list the journal's steps (seq, kind, name, duration, tokens, cost, status)",
        description="The steps of a run from the journal (.harness/journal.db), read-only: "
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


def state_dir(args: argparse.Namespace) -> Path:
    return Path(args.project).absolute() / ".harness"


class NotInJournal(HarnessError):
    """What a reading command was asked for is not there: no journal (not a project, or
    nothing has run), no such run, no such step. Invalid input (exit 2), not a failure."""

    exit_code = ExitCode.INVALID


def open_reader(args: argparse.Namespace) -> JournalReader:
    """The project's journal, read-only; NotInJournal (exit 2) when there is none."""
    from harness.journal.protocol import open_reader

    state = state_dir(args)
    if not (state / "journal.db").exists():
        raise NotInJournal(
            f"no journal at {state / 'journal.db'}: nothing has run in {state.parent} (is it "
            "the project? `-C DIR` names it; `harness init` or `harness run` starts one)"
        )
    return open_reader(state)


def pick_run(journal: JournalReader, run_id: str | None, where: Path) -> str | None:
    """``run_id`` if it exists, else the newest run (None if there are no runs)."""
    if run_id is None:
        return journal.latest_busy_run() or journal.latest_run()
    if run_id not in {r.id for r in journal.runs()}:
        raise NotInJournal(f"no run {run_id!r} in {where}; `harness runs` lists them")
    return run_id


def step_json(row: StepRow) -> dict[str, Any]:
    return row.model_dump(mode="json")


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
        for row in rows:
            print(json.dumps(step_json(row)))
        return int(ExitCode.OK)
    print(render(run_id, rows))
    return int(ExitCode.OK)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    return f"{seconds:.2f}s"


def render(run_id: str, rows: list[StepRow]) -> str:
    """A plain text table of steps."""
    header = ("session", "seq", "kind", "name", "duration", "tokens", "cost", "status", "attempts")
    table = [header]
    for r in rows:
        status = r.status + (" (cached)" if r.cached else "")
        if r.error_class:
            status += f" {r.error_class}"
        table.append(
            (
                str(r.session),
                str(r.seq),
                r.kind,
                r.name,
                _duration(r.duration),
                "-" if r.tokens is None else str(r.tokens),
                "-" if r.cost_usd is None else f"${r.cost_usd:.4f}",
                status,
                str(r.attempts),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [f"run {run_id}: {len(rows)} step(s)"]
    for line in table:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)
