"""The runner panel: runner kind, containers, resources, the last infrastructure failure."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from harness.terminal import for_terminal
from tui.model import RunnerView


def describe(view: RunnerView) -> str:
    """The panel's text (markup) for a runner view."""
    if view.in_use:
        lines = [f"[b]runner in use[/] {escape(view.in_use)} (config: {escape(view.kind)})"]
    else:
        lines = [f"[b]runner[/] {escape(view.kind)} (configured; no run recorded one yet)"]
    if view.resources:
        res = view.resources
        parts = [f"{k}={res[k]}" for k in ("memory_mb", "cpus", "pids", "gpus", "timeout_s")]
        parts.append("network on" if res.get("network") else "network off")
        lines.append("[b]resources[/] " + " ".join(p for p in parts if "=None" not in p))
    if view.containers:
        lines.append("[b]containers[/] " + ", ".join(escape(c) for c in view.containers))
    else:
        lines.append("[b]containers[/] none running")
    if view.last_command:
        code = "?" if view.last_exit is None else str(view.last_exit)
        command = for_terminal(view.last_command[:60], one_line=True)
        lines.append(f"[b]last command[/] {escape(command)} (exit {code})")
    failure = view.last_failure
    if failure:
        lines.append(
            f"[b red]last failure[/] {escape(str(failure.get('kind', '?')))}"
            f"{' at ' + escape(view.failure_at) if view.failure_at else ''}: "
            f"{escape(str(failure.get('message', '')))}"
        )
        if failure.get("limit"):
            lines.append(f"  limit: {escape(str(failure['limit']))}")
        if failure.get("suggestion"):
            lines.append(f"  [i]{escape(str(failure['suggestion']))}[/]")
    else:
        lines.append("[b]last failure[/] none")
    return "\n".join(lines)


class RunnerPanel(Static):
    """Shows the runner state; drawn from the journal, config and the Docker engine."""

    BORDER_TITLE = "Runner"

    def __init__(self) -> None:
        super().__init__("runner: not known yet", id="runner")
        self.view = RunnerView()

    def show(self, view: RunnerView) -> None:
        """Redraw for a new view."""
        self.view = view
        self.update(describe(view))
