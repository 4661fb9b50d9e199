"""What a run is doing now, said one way by ``status``, ``runs``, the TUI and the run report.

A run is *running* while a live process holds its lock (the lock, not a pid that may be a
zombie or reused, and not a wall-clock guess); else it is *parked* (waiting for a human's
answer, or for something else: the provider, the disk, Docker, the database, a fix the
user makes), *interrupted* (its process died or was stopped mid-step) or *finished* with
its outcome. Parked and interrupted runs resume with ``harness run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from harness.journal.protocol import JournalReader
    from harness.journal.rows import RunRow

Phase = Literal["running", "waiting_for_human", "waiting", "interrupted", "finished"]
RESUME = "`harness run` resumes it"


@dataclass(frozen=True)
class RunState:
    """One run's state."""

    run_id: str
    kind: str
    state: Phase
    outcome: str | None = None
    """Finished: its outcome. Parked: why it stopped (``failed`` for a fatal model error or
    a refused repository the user must fix first)."""
    detail: str = ""
    pid: int | None = None
    """Running: the process that drives it (on its machine, for a shared database)."""

    @property
    def resumable(self) -> bool:
        return self.state in ("waiting_for_human", "waiting", "interrupted")

    def words(self) -> str:
        """``running (pid N)``, ``parked: waiting for a human``, ``finished: complete``..."""
        if self.state == "running":
            return f"running (pid {self.pid})" if self.pid and self.pid > 0 else "running"
        if self.state == "finished":
            return f"finished: {self.outcome}"
        if self.state == "waiting_for_human":
            return "parked: waiting for a human"
        if self.state == "waiting":
            if self.outcome == "failed":
                return "stopped: fix what it says first"
            return "parked: waiting"
        return "interrupted"


def run_state(run: RunRow, holder: int | None) -> RunState:
    """The state of ``run``, given the pid holding its lock now (None if nobody does)."""
    report = run.report or {}
    detail = str(report.get("detail", "")) if run.outcome else ""
    if run.status == "finished":
        return RunState(run.id, run.kind, "finished", run.outcome, detail)
    if holder is not None:
        return RunState(run.id, run.kind, "running", pid=holder)
    if run.outcome == "waiting_for_human":
        return RunState(run.id, run.kind, "waiting_for_human", run.outcome, detail)
    if run.outcome in (None, "interrupted"):
        detail = detail or "its process was killed or stopped mid-step"
        return RunState(run.id, run.kind, "interrupted", "interrupted", detail)
    return RunState(run.id, run.kind, "waiting", run.outcome, detail)


def state_of(journal: JournalReader, run: RunRow) -> RunState:
    """The state of a run read from ``journal`` (its lock asked only if it is not finished)."""
    return run_state(run, journal.holder(run.id) if run.status != "finished" else None)


def run_states(journal: JournalReader) -> list[RunState]:
    """Every run's state, oldest first."""
    return [state_of(journal, run) for run in journal.runs()]


def newest_state(journal: JournalReader) -> RunState | None:
    """The newest run's state (None if there is no run)."""
    runs = journal.runs()
    return state_of(journal, runs[-1]) if runs else None
