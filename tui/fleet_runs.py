"""The fleet's runs: one row per run (id, state, features, cost, worker, version, project),
redrawn in place when a read differs, the cursor kept on its run."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

from harness.terminal import for_terminal
from tui.fleet_data import RunLine

COLUMNS = ("run", "state", "features", "cost", "worker", "version", "project")
STATE_STYLE = {
    "running": "green",
    "parked": "bold yellow",
    "publishing": "green",
    "complete": "bold green",
    "failed": "bold red",
    "budget": "red",
    "cancelled": "dim",
    "queued": "cyan",
}


def cells(run: RunLine) -> tuple[Text, ...]:
    """The row of a run (every string of the run's project drawn as text, never markup)."""
    version = Text(run.version, style="bold red" if run.stranded else "")
    if run.stranded:
        version.append(" stranded")
    return (
        Text(for_terminal(run.id, one_line=True)),
        Text(run.state, style=STATE_STYLE.get(run.state, "")),
        Text(f"{run.passing}/{run.total}"),
        Text(f"${run.cost_usd:.4f}"),
        Text(for_terminal(run.worker, one_line=True) or "-"),
        version,
        Text(for_terminal(run.project, one_line=True)),
    )


class RunsPanel(Vertical):
    """Every run of the fleet, oldest first."""

    BORDER_TITLE = "Runs"

    def __init__(self) -> None:
        super().__init__(id="runs")
        self.runs: list[RunLine] = []

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table

    def show(self, runs: list[RunLine]) -> None:
        """Draw the runs: changed cells in place when the runs are the same ones, else the
        table anew with the cursor on the run it was on."""
        if runs == self.runs:
            return
        table = self.query_one("#runs-table", DataTable)
        if [r.id for r in runs] == [r.id for r in self.runs]:
            keys = [column.key for column in table.ordered_columns]
            for old, new in zip(self.runs, runs, strict=True):
                if old != new:
                    for key, value in zip(keys, cells(new), strict=True):
                        table.update_cell(new.id, key, value)
        else:
            current = self.selected()
            table.clear()
            for run in runs:
                table.add_row(*cells(run), key=run.id)
            ids = [r.id for r in runs]
            if current is not None and current in ids:
                table.move_cursor(row=ids.index(current))
        self.runs = runs
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.state] = counts.get(run.state, 0) + 1
        said = ", ".join(f"{n} {state}" for state, n in counts.items())
        self.border_title = f"Runs ({len(runs)}: {said})" if runs else "Runs (none yet)"

    def selected(self) -> str | None:
        """The id of the run under the cursor."""
        table = self.query_one("#runs-table", DataTable)
        if not self.runs or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row].id
