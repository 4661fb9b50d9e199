"""The live step stream: the newest steps of the journal, a bounded window."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

from tui.model import StepView

MAX_ROWS = 300  # never hold more rows than this: the journal may have 100,000 steps
STATUS_STYLE = {"running": "yellow", "ok": "green", "error": "red", "superseded": "dim"}


def _duration(step: StepView) -> str:
    if step.duration_s is None:
        return "…" if step.status == "running" else ""
    if step.duration_s < 1:
        return f"{step.duration_s * 1000:.0f} ms"
    return f"{step.duration_s:.1f} s"


class StepsPanel(Vertical):
    """Steps as they are journaled, by any process; follows the tail unless scrolled up."""

    BORDER_TITLE = "Steps (live)"

    def __init__(self) -> None:
        super().__init__(id="steps")
        self.count = 0  # steps seen since start (not all are shown)

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="steps-table", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#steps-table", DataTable)
        table.add_column("step", key="ref", width=8)
        table.add_column("kind", key="kind", width=8)
        table.add_column("name", key="name", width=18)
        table.add_column("time", key="time", width=7)
        table.add_column("status", key="status", width=7)
        table.add_column("detail", key="detail")

    def add(self, steps: list[StepView]) -> None:
        """Add new steps or update ones already shown (a step that ended)."""
        if not steps:
            return
        table = self.query_one("#steps-table", DataTable)
        following = table.cursor_row >= table.row_count - 1
        for step in steps[-MAX_ROWS:]:
            key = f"{step.run}/{step.session}/{step.seq}"
            status = Text(step.status, style=STATUS_STYLE.get(step.status, ""))
            cells: tuple[str | Text, ...] = (
                f"s{step.session}#{step.seq}",
                step.kind,
                Text(step.name),  # Text, not str: the agent's words are never markup
                _duration(step),
                status,
                Text(step.detail[:200]),
            )
            if key in table.rows:
                for column, value in zip(("time", "status", "detail"), cells[3:], strict=True):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)
                self.count += 1
        while table.row_count > MAX_ROWS:
            table.remove_row(next(iter(table.rows)))
        if following:
            table.move_cursor(row=table.row_count - 1)
        last = steps[-1]
        self.border_subtitle = f"run {last.run[:8]} session {last.session}, {self.count} shown"

    def shown(self) -> list[tuple[str, str, str]]:
        """(kind, name, status) of the rows shown, oldest first (for tests)."""
        table = self.query_one("#steps-table", DataTable)
        return [
            (str(row[1]), str(row[2]), str(row[4]))
            for row in (table.get_row(k) for k in table.rows)
        ]
