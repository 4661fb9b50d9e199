"""One drive of a run inside a worker: the existing run code, stopped at a step boundary
when the worker stops or the run is cancelled, its outcome written to the fleet's row."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fleet.db import QuestionRow, RunRow
from fleet.project import RunFolder, branch_of

if TYPE_CHECKING:
    from fleet.db import FleetDb
    from fleet.place import Place
    from harness.scope import StepHooks

T = TypeVar("T")

# The run's outcome (session.run) -> the fleet's state of the run.
STATES = {
    "complete": "complete",
    "budget_exhausted": "budget",
    "waiting_for_human": "parked",
    "stuck": "failed",
    "failed": "failed",
}
WAIT_AGAIN_S = 30.0  # a run waiting on the provider or storage is driven again this late


class Stopped(KeyboardInterrupt):
    """Raised at a step boundary: the worker stops or the run was cancelled. A step not
    started yet is left for the next drive; nothing of it was paid (run code treats it
    as an interruption: the run stays open)."""


@dataclass
class StopHooks:
    """A run's step hooks in a worker: before each live step, stop if asked to."""

    should_stop: Callable[[], bool]
    inner: StepHooks | None = None
    """The crash switch of a worker started by `python -m harness.cli.chaos` (tests)."""
    steps: int = 0

    def __call__(self) -> None:
        self._check()
        if self.inner is not None:
            self.inner()

    def wrap(self, kind: str, name: str, fn: Callable[[], T]) -> Callable[[], T]:
        work = fn if self.inner is None else self.inner.wrap(kind, name, fn)

        def guarded() -> T:
            self._check()
            self.steps += 1
            return work()

        return guarded

    def _check(self) -> None:
        if self.should_stop():
            raise Stopped()


@dataclass
class WorkerState:
    """What the drives of one worker process share: its id, the fleet, its stop flag."""

    worker_id: str
    place: Place
    db: FleetDb
    environ: Mapping[str, str]
    stopping: threading.Event = field(default_factory=threading.Event)
    cancelled: set[str] = field(default_factory=set)
    active: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hooks: StepHooks | None = None
    """Crash switches (tests only, through `python -m harness.cli.chaos`)."""
    fenced_before: float = 0.0
    """Drives started before this time were handed to other workers (this one was
    declared lost): they stop at their next step."""

    def should_stop(self, run_id: str) -> bool:
        if self.stopping.is_set() or run_id in self.cancelled:
            return True
        return self.active.get(run_id, float("inf")) < self.fenced_before


@dataclass
class DriveResult:
    outcome: str  # complete, parked, budget, failed, handover, waiting, cancelled
    detail: str = ""


def prepare(state: WorkerState, run_id: str) -> RunRow:
    """The run's row, its project on this machine at its branch; answers given from any
    machine since it parked are delivered to its question store."""
    row = _row(state, run_id)
    folder = RunFolder(state.place.work_root(), run_id)
    folder.ensure(row.project, run_id, row.base)
    _deliver_answers(state.db, run_id, folder.project)
    return row


def drive(state: WorkerState, run_id: str, drive_no: int) -> DriveResult:
    """Drive the run until it completes, parks, spends a budget, fails, or is stopped."""
    from harness.config import load_config, run_scope
    from session.run import run_project

    row = _row(state, run_id)
    if row.state == "cancelled" or run_id in state.cancelled:
        return DriveResult("cancelled", "cancelled before this drive")
    folder = RunFolder(state.place.work_root(), run_id)
    if not folder.lock():
        return DriveResult("waiting", "another process of this machine holds the run")
    try:
        folder.ensure(row.project, run_id, row.base)
        _deliver_answers(state.db, run_id, folder.project)
        state.db.update_run(
            run_id, state="running", worker=state.worker_id, drive=drive_no, detail=""
        )
        with state.lock:
            state.active[run_id] = time.time()
        overrides = {"model.name": row.model} if row.model else {}
        try:
            config = load_config(folder.project, env=state.environ, overrides=overrides)
        except Exception as error:  # a bad harness.toml: the run fails, saying why
            return _finish(state, run_id, DriveResult("failed", str(error)), folder.project)
        hooks = StopHooks(lambda: state.should_stop(run_id), inner=state.hooks)
        scope = run_scope(config, state.environ, hooks=hooks)
        try:
            report = run_project(folder.project, config, unattended=True, scope=scope)
        except Exception as error:  # a journal that cannot be trusted, a bug: said, not hidden
            return _finish(
                state,
                run_id,
                DriveResult("failed", f"{type(error).__name__}: {error}"),
                folder.project,
            )
        state.db.update_run(
            run_id,
            passing=report.features_passing,
            total=report.features_total,
            tokens=report.tokens,
            cost_usd=report.cost_usd,
        )
        if report.outcome == "interrupted":
            outcome = "cancelled" if run_id in state.cancelled else "handover"
            result = DriveResult(outcome, "the worker stopped at a step boundary")
        elif report.outcome == "waiting":
            result = DriveResult("waiting", report.detail)
        else:
            result = DriveResult(report.outcome, report.detail)
        if result.outcome == "waiting_for_human":
            _park(state.db, run_id, folder.project)
        return _finish(state, run_id, result, folder.project)
    finally:
        with state.lock:
            state.active.pop(run_id, None)
        folder.unlock()


def publish(state: WorkerState, run_id: str) -> str:
    """Push the run's commits to its branch in the project it came from."""
    folder = RunFolder(state.place.work_root(), run_id)
    head = folder.publish(run_id)
    row = _row(state, run_id)
    extra = dict(row.extra)
    extra["published"] = head
    state.db.update_run(run_id, extra=extra, branch=branch_of(run_id))
    return head


def _finish(state: WorkerState, run_id: str, result: DriveResult, root: Path) -> DriveResult:
    fleet_state = {
        "handover": "queued",
        "waiting": "queued",
        "cancelled": "cancelled",
    }.get(result.outcome) or STATES.get(result.outcome, "failed")
    if result.outcome == "waiting_for_human":
        result = DriveResult("parked", result.detail)
    state.db.update_run(
        run_id,
        state=fleet_state,
        worker=None,
        detail=result.detail[:2000],
        only_if=("running", "queued"),
    )
    return result


def _row(state: WorkerState, run_id: str) -> RunRow:
    row = state.db.run(run_id)
    if row is None:
        raise LookupError(f"no run {run_id} in {state.place.describe()}")
    return row


def _park(db: FleetDb, run_id: str, root: Path) -> None:
    """The run's pending questions go to the fleet's table, where any machine answers."""
    from escalation.questions import QuestionStore

    with QuestionStore(root / ".harness", project_root=root) as store:
        pending = store.pending()
    db.put_questions(
        [
            QuestionRow(
                run=run_id,
                qid=q.id,
                kind=q.kind,
                text=q.text,
                choices=list(q.choices),
                asked_at=q.asked_at.isoformat(),
            )
            for q in pending
        ]
    )


def _deliver_answers(db: FleetDb, run_id: str, root: Path) -> None:
    """Answers given in the fleet reach the run's own question store (once)."""
    settled = [q for q in db.questions_of(run_id) if q.status in ("answered", "approved", "denied")]
    if not settled:
        return
    from escalation.questions import QuestionError, QuestionStore

    with QuestionStore(root / ".harness", project_root=root) as store:
        for q in settled:
            try:
                if q.status == "approved":
                    store.approve(q.qid)
                elif q.status == "denied":
                    store.deny(q.qid, q.answer or "")
                else:
                    store.answer(q.qid, q.answer, q.choice)
            except QuestionError:
                pass  # settled there already (a drive that died after delivering)
            db.mark_delivered(run_id, q.qid)
