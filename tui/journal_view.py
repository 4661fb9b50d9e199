"""Follow the journal read-only: sessions, the tail of the steps, the runner's last work.

Reads go through the journal's read API (`harness.journal.protocol.JournalReader` from
`open_reader`: for SQLite a read-only connection; WAL readers never block the writer). A
run's state is `harness.journal.state.RunState`, the one `harness status` says. Only
steps after the last rowid seen are read on each refresh, and at start only the last `tail`
steps, so a journal of 100,000 steps opens as fast as a small one. Per-session totals come
from one aggregate query at start, then only the sessions that got new steps are counted
again (an indexed range).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from harness.journal.protocol import open_reader
from harness.journal.state import run_state
from harness.terminal import for_terminal
from tui.model import SessionView, StepView, Update

if TYPE_CHECKING:
    from harness.journal.location import Location
    from harness.journal.protocol import JournalReader
    from harness.journal.rows import RunRow
    from harness.journal.state import RunState

RUNNER_STEPS = {"runner"}  # every step of kind "runner" (setup, init.sh, checks)
RUNNER_TOOLS = {"run", "verify_feature"}  # tool steps that ran a command
STATUS = {"started": "running", "ended": "ok", "failed": "error"}
STALE_OPEN = 1000  # a step still "started" this far back was left in flight: stop watching


def step_view(step: Any) -> StepView:
    """A StepView of a `harness.journal.StepRow`."""
    detail = f"{step.error_class}" if step.error_class else ""
    if step.cached:
        detail = "cached"
    if step.attempts and step.attempts > 1:
        detail = f"{detail} attempt {step.attempts}".strip()
    if step.tokens:
        detail = f"{detail} {step.tokens} tok".strip()
    return StepView(
        rowid=step.rowid,
        run=step.run_id,
        session=step.session,
        seq=step.seq,
        kind=step.kind,
        name=for_terminal(step.name, one_line=True),  # a journal from before names were checked
        status=STATUS.get(step.status, step.status),
        duration_s=step.duration,
        detail=detail,
    )


def command_of(kind: str, inputs: Any, output: Any) -> dict[str, Any] | None:
    """{command, exit_code, failure} of a step that ran a command, else None."""
    if not isinstance(output, dict):
        return None
    if "command" in output and "exit_code" in output:  # a CommandResult
        return output
    effects = output.get("effects")
    if kind == "tool" and isinstance(effects, list):
        for effect in effects:  # a `run` tool call: its CommandRan effect
            if isinstance(effect, dict) and effect.get("kind") == "command_ran":
                return {k: v for k, v in effect.items() if k != "kind"}
    data = output.get("data")  # journals written before effects were typed
    if kind == "tool" and isinstance(data, dict) and "exit_code" in data:
        command = data.get("command")
        if command is None and isinstance(inputs, dict):
            try:
                command = json.loads(inputs.get("arguments") or "{}").get("command")
            except (ValueError, AttributeError):
                command = None
        return {**data, "command": command or "?"}
    return None


class JournalFollower:
    """Incremental reader of one project's journal."""

    def __init__(self, where: Location, *, tail: int = 200) -> None:

        self.journal: JournalReader = open_reader(where)
        self.tail = tail
        self.last_rowid: int | None = None
        self.open_steps: set[int] = set()  # rowids of steps seen while still running
        self.totals: dict[tuple[str, int], tuple[int, int, float]] = {}
        self.last_runner: dict[str, Any] | None = None
        self.last_failure: tuple[dict[str, Any], str] | None = None
        self.runner_in_use = ""  # what the newest run recorded (its runner's description)
        self.holder: tuple[str | None, bool] = (None, False)
        """The newest run, and whether a live process held its lock at the last read."""

    def read(self, update: Update) -> None:
        """Add new and updated steps, the sessions and the run status to `update`."""
        if self.last_rowid is None:
            since = max(0, self.journal.last_rowid() - self.tail)
            self.totals.update(self.journal.session_totals())
        else:
            self.open_steps = {r for r in self.open_steps if self.last_rowid - r < STALE_OPEN}
            since = min([self.last_rowid, *(r - 1 for r in self.open_steps)])
        seen = self.last_rowid or 0
        touched: set[tuple[str, int]] = set()
        runner_steps = []
        for step in self.journal.steps(since_rowid=since):
            if step.rowid <= seen and step.rowid not in self.open_steps:
                continue  # shown before, and already finished then
            view = step_view(step)
            if view.status == "running":
                self.open_steps.add(step.rowid)
            else:
                self.open_steps.discard(step.rowid)
                if step.kind in RUNNER_STEPS or (step.kind, step.name) in _tool_pairs():
                    runner_steps.append(step)
            update.steps.append(view)
            touched.add((step.run_id, step.session))
            seen = max(seen, step.rowid)
        first = self.last_rowid is None
        self.last_rowid = seen
        if not first:
            for run_id, session in touched:
                self.totals.update(self.journal.session_totals(run_id, session))
        for step in runner_steps[-20:]:
            self._runner(step)
        self._sessions(update)

    def _runner(self, step: Any) -> None:
        detail = self.journal.step_detail(step.run_id, step.session, step.seq)
        if detail is None:
            return
        result = command_of(step.kind, detail.inputs, detail.output)
        if result is None:
            return
        self.last_runner = result
        if result.get("failure"):
            self.last_failure = (result["failure"], f"s{step.session}#{step.seq}")

    def _sessions(self, update: Update) -> None:
        runs = self.journal.runs()
        if not runs:
            update.sessions = []
            update.run_status = "no run yet"
            return

        sessions = []
        states = {r.id: run_state(r, self.journal.holder(r.id)) for r in runs[-3:]}
        newest = states[runs[-1].id]
        for s in self.journal.sessions():
            count, tokens, cost = self.totals.get((s.run_id, s.number), (0, 0, 0.0))
            summary = s.summary or {}
            passing = summary.get("passing")
            sessions.append(
                SessionView(
                    run=s.run_id,
                    number=s.number,
                    outcome=s.outcome or _open_outcome(states.get(s.run_id), s.status),
                    steps=count,
                    tokens=tokens,
                    cost_usd=cost,
                    passing=int(passing) if isinstance(passing, int) else None,
                )
            )
        update.sessions = sessions
        run_tokens = sum(t for (r, _), (_, t, _) in self.totals.items() if r == newest.run_id)
        run_cost = sum(c for (r, _), (_, _, c) in self.totals.items() if r == newest.run_id)
        figures = f"this run {run_tokens:,} tokens ${run_cost:.4f}"
        update.run_status = f"{run_status(newest)} · {figures}"
        update.run_active = newest.state == "running"
        update.run_id = newest.run_id
        self.holder = (newest.run_id, update.run_active)
        self.runner_in_use = self._runner_in_use(runs[-1])

    def holder_changed(self) -> bool:
        """A process took or let go of the newest run's lock since the last read (a run
        that parks, or is killed, ends with its last write: no file change follows)."""
        run_id, held = self.holder
        return run_id is not None and (self.journal.holder(run_id) is not None) != held

    def _runner_in_use(self, run: RunRow) -> str:
        """The runner the newest run recorded in its meta ("" if it recorded none)."""
        report = run.report or {}
        runner = run.meta.get("runner") or report.get("runner")  # the report: runs before meta
        if isinstance(runner, dict):
            text = str(runner.get("description") or runner.get("name") or "")
            if runner.get("sandboxed") is False and "not a sandbox" not in text.lower():
                text += " (NOT a sandbox)"
            return text
        return str(runner or "")

    def close(self) -> None:
        """Close the read-only connection."""
        self.journal.close()


def _tool_pairs() -> set[tuple[str, str]]:
    return {("tool", name) for name in RUNNER_TOOLS}


def _open_outcome(state: RunState | None, status: str) -> str:
    """What an open session is doing: running, parked with its run, or interrupted."""
    if status != "open":
        return status
    if state is None or state.state == "finished":
        return "interrupted"  # an old run's session, or one its run closed without it
    if state.state == "running":
        return "running"
    return state.words()


def run_status(state: RunState) -> str:
    """``run <id> running (pid N)`` / ``... parked: ... (`harness run` resumes)`` / ..."""
    words = f"run {state.run_id} {state.words()}"
    return f"{words} (`harness run` resumes)" if state.resumable else words
