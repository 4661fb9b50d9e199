"""Follow the journal read-only: sessions, the tail of the steps, the runner's last work.

Reads go through `Journal.open_readonly` (a read-only SQLite connection: the writer is
never blocked); only the steps after the last rowid seen are read on each refresh, and at
start only the last `tail` steps, so a journal of 100,000 steps opens as fast as a small one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tui.model import SessionView, StepView, Update

RUNNER_STEPS = {("runner", "run"), ("tool", "run")}


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def _seconds(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    if isinstance(start, datetime) and isinstance(end, datetime):
        return (end - start).total_seconds()
    if isinstance(start, int | float) and isinstance(end, int | float):
        return float(end - start)
    return None


def step_view(step: Any) -> StepView:
    """A StepView of a journal step record."""
    status = str(_get(step, "status", default="running"))
    error = _get(step, "error")
    detail = ""
    if error:
        detail = str(_get(error, "message", default=error))
    duration = _get(step, "duration_s")
    if duration is None:
        duration = _seconds(_get(step, "started_at"), _get(step, "ended_at"))
    return StepView(
        rowid=int(_get(step, "rowid", default=0)),
        run=str(_get(step, "run_id", "run", default="")),
        session=int(_get(step, "session", default=0)),
        seq=int(_get(step, "seq", default=0)),
        kind=str(_get(step, "kind", default="?")),
        name=str(_get(step, "name", default="?")),
        status=status,
        duration_s=float(duration) if duration is not None else None,
        detail=detail,
    )


class JournalFollower:
    """Incremental reader of one project's journal."""

    def __init__(self, state_dir: Path, *, tail: int = 200) -> None:
        from harness.journal import Journal

        self.journal = Journal.open_readonly(state_dir)
        self.tail = tail
        self.last_rowid: int | None = None
        self.open_steps: dict[int, Any] = {}  # rowid -> step still running
        self.last_runner: Any = None
        self.last_failure: tuple[dict[str, Any], str] | None = None

    def read(self, update: Update) -> None:
        """Add new steps, the sessions and the run status to `update`."""
        if self.last_rowid is None:
            steps = list(self.journal.tail(self.tail))
        else:
            watch = min(self.open_steps, default=self.last_rowid + 1) - 1
            steps = list(self.journal.steps(since_rowid=min(watch, self.last_rowid)))
        for step in steps:
            rowid = int(_get(step, "rowid", default=0))
            view = step_view(step)
            if rowid <= (self.last_rowid or 0) and rowid not in self.open_steps:
                continue  # seen before and finished since: nothing new
            if view.status == "running":
                self.open_steps[rowid] = step
            else:
                self.open_steps.pop(rowid, None)
            update.steps.append(view)
            self._runner(step, view)
            self.last_rowid = max(self.last_rowid or 0, rowid)
        if self.last_rowid is None:
            self.last_rowid = 0
        self._sessions(update)

    def _runner(self, step: Any, view: StepView) -> None:
        if (view.kind, view.name) not in RUNNER_STEPS or view.status == "running":
            return
        output = _get(step, "output")
        if not isinstance(output, dict) or "command" not in output:
            return
        self.last_runner = output
        if output.get("failure"):
            self.last_failure = (output["failure"], f"s{view.session}#{view.seq}")

    def _sessions(self, update: Update) -> None:
        runs = list(self.journal.runs())
        if not runs:
            update.sessions = []
            update.run_status = "no run yet"
            return
        latest = runs[-1]
        run_id = str(_get(latest, "id", "run_id", default="?"))
        sessions = []
        for s in self.journal.sessions(run_id=run_id):
            summary = _get(s, "summary", default={}) or {}
            sessions.append(
                SessionView(
                    run=run_id,
                    number=int(_get(s, "number", "session", default=0)),
                    outcome=str(_get(s, "outcome", default="running")),
                    steps=int(_get(s, "steps", default=0)),
                    tokens=int(_get(s, "tokens", default=0)),
                    cost_usd=float(_get(s, "cost_usd", "cost", default=0.0)),
                    passing=_get(summary, "passing"),
                )
            )
        update.sessions = sessions
        outcome = _get(latest, "outcome")
        state = f"finished: {outcome}" if outcome else "running or parked"
        update.run_status = f"run {run_id[:8]} {state}"

    def close(self) -> None:
        """Close the read-only connection."""
        close = getattr(self.journal, "close", None)
        if close is not None:
            close()
