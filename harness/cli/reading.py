"""What the commands that read the journal share (log, log --follow, show, runs, export):
the project's journal opened read-only, the run asked for, a step as JSON and as a table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode, HarnessError

if TYPE_CHECKING:
    from harness.journal import StepRow
    from harness.journal.location import Location
    from harness.journal.protocol import JournalReader


def state_dir(args: argparse.Namespace) -> Path:
    return Path(args.project).absolute() / ".harness"


class NotInJournal(HarnessError):
    """What a reading command was asked for is not there: no journal (not a project, or
    nothing has run), no such run, no such step. Invalid input (exit 2), not a failure."""

    exit_code = ExitCode.INVALID


def location(args: argparse.Namespace) -> Location:
    """Where the project's journal is (``[journal] url``, else SQLite under .harness/)."""
    from harness.config import journal_location

    return journal_location(Path(args.project).absolute())


def open_reader(args: argparse.Namespace) -> JournalReader:
    """The project's journal, read-only; NotInJournal (exit 2) when there is none."""
    from harness.journal.protocol import journal_exists, open_reader

    where = location(args)
    if not journal_exists(where):
        raise NotInJournal(
            f"no journal at {where.describe()}: nothing has run in "
            f"{Path(args.project).absolute()} (is it the project? `-C DIR` names it; "
            "`harness init` or `harness run` starts one)"
        )
    return open_reader(where)


def pick_run(journal: JournalReader, run_id: str | None, where: Path) -> str | None:
    """``run_id`` if it exists, else the newest run (None if there are no runs)."""
    if run_id is None:
        return journal.latest_busy_run() or journal.latest_run()
    if run_id not in {r.id for r in journal.runs()}:
        raise NotInJournal(f"no run {run_id!r} in {where}; `harness runs` lists them")
    return run_id


def step_json(row: StepRow) -> dict[str, Any]:
    """The row as JSON-able data."""
    return dict(row.__dict__)  # its fields are plain values (asdict copies them deeply)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    return f"{seconds:.2f}s"


def render(run_id: str, rows: list[StepRow]) -> str:
    """A plain text table of steps; every cell one inert line (``for_terminal``)."""
    from harness.terminal import for_terminal

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
                for_terminal(r.name, one_line=True),
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
