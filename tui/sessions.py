"""The sessions panel: outcome, steps, tokens and cost per session, and a chart of
features passing session by session."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from artifacts.models import ProgressEntry
from tui.model import SessionView

BLOCKS = " ▁▂▃▄▅▆▇█"
OUTCOME_STYLE = {"running": "yellow", "complete": "green", "passing": "green", "parked": "magenta"}


def bar_chart(values: list[int], total: int, height: int = 3, width: int = 40) -> list[str]:
    """Vertical bars of `values` on an absolute 0..`total` scale, `height` lines tall."""
    if not values or total <= 0:
        return ["(no session has closed yet)"]
    values = values[-width:]
    levels = height * 8
    lines = []
    for row in range(height - 1, -1, -1):
        line = ""
        for value in values:
            filled = round(min(value, total) / total * levels) - row * 8
            line += BLOCKS[max(0, min(8, filled))] * 2
        lines.append(line)
    return lines


def passing_by_session(
    sessions: list[SessionView], progress: list[ProgressEntry]
) -> list[tuple[int, int]]:
    """(session, features passing after it), from session closes, else progress entries."""
    known = {s.number: s.passing for s in sessions if s.passing is not None}
    if not known:
        # progress.md records one feature per session: count distinct "passing" outcomes.
        done: set[str] = set()
        for entry in sorted(progress, key=lambda e: e.session):
            if entry.feature and entry.outcome.lower() in ("passing", "pass", "done", "complete"):
                done.add(entry.feature)
            known[entry.session] = len(done)
    return sorted((n, p) for n, p in known.items() if p is not None)


class SessionsPanel(Vertical):
    """Sessions of the runs in this project, newest last."""

    BORDER_TITLE = "Sessions"

    def __init__(self) -> None:
        super().__init__(id="sessions")
        self.sessions: list[SessionView] = []
        self.progress: list[ProgressEntry] = []
        self.total = 0

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="sessions-table", cursor_type="row")
        yield table
        yield Static(id="sessions-chart")

    def on_mount(self) -> None:
        table = self.query_one("#sessions-table", DataTable)
        for label, key in (("#", "n"), ("outcome", "o"), ("steps", "s"), ("tokens", "t")):
            table.add_column(label, key=key)
        table.add_column("cost", key="c")
        self._chart()

    def show(
        self,
        sessions: list[SessionView] | None = None,
        progress: list[ProgressEntry] | None = None,
        total: int | None = None,
    ) -> None:
        """Redraw with whatever changed."""
        if sessions is not None:
            self.sessions = sessions
            self._table()
        if progress is not None:
            self.progress = progress
        if total is not None:
            self.total = total
        self._chart()

    def _table(self) -> None:
        table = self.query_one("#sessions-table", DataTable)
        table.clear()
        for s in self.sessions[-200:]:
            style = OUTCOME_STYLE.get(s.outcome, "red" if "fail" in s.outcome else "")
            outcome = Text(s.outcome, style=style)
            table.add_row(
                str(s.number),
                outcome,
                str(s.steps),
                f"{s.tokens:,}",
                f"${s.cost_usd:.4f}",
                key=f"{s.run}/{s.number}",
            )
        if self.sessions:
            table.move_cursor(row=table.row_count - 1)
        tokens = sum(s.tokens for s in self.sessions)
        cost = sum(s.cost_usd for s in self.sessions)
        self.border_subtitle = f"{len(self.sessions)} sessions, {tokens:,} tokens, ${cost:.4f}"

    def _chart(self) -> None:
        points = passing_by_session(self.sessions, self.progress)
        values = [p for _, p in points]
        lines = bar_chart(values, self.total or max(values, default=0))
        head = "features passing by session"
        if points:
            head += f" (s{points[0][0]}..s{points[-1][0]}, now {values[-1]}/{self.total or '?'})"
        self.query_one("#sessions-chart", Static).update("\n".join([head, *lines]))
