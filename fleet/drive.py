"""One drive of a run inside a worker: the existing run code, stopped at a step boundary
when the worker stops or the run is cancelled, its outcome written to the fleet's row."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from escalation.questions import QuestionError, QuestionStore
from fleet.classes import ClassMove, ClassTable
from fleet.db import SETTLED, QuestionRow, RunRow
from fleet.outage import until_reachable
from fleet.place import URL_VARIABLE
from fleet.project import RunFolder, branch_of
from fleet.runjournal import Checkpointer, RunCheckpoints
from harness.config import load_config, run_scope
from harness.errors import StorageError
from harness.journal.location import Location
from session.run import run_project
from session.tools.files import WRITERS

if TYPE_CHECKING:
    from fleet.db import FleetDb
    from fleet.drives import Drives
    from fleet.place import Place
    from fleet.runjournal import RunJournals
    from fleet.trace import Trace
    from harness.scope import ModelMaker, StepHooks

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
PUBLISHED_FIRST = ("complete", "failed", "budget")
"""Final states a run shows only once its branch is pushed: its drive leaves it
``publishing``, the publish step (the next DBOS step) pushes, then sets the state."""
PUBLISH_ATTEMPTS = 5
PUBLISH_RETRY_S = 2.0
"""A push that failed is tried again this late, the wait doubling each time, until
:data:`PUBLISH_ATTEMPTS` were made (2 + 4 + 8 + 16 s); then the run is failed, saying why
(``unpublished``). `harness fleet worker --publish-retry S` sets it."""


def fleet_state(outcome: str) -> str:
    """The fleet's state of a run whose drive ended with ``outcome`` (``DriveResult``'s)."""

    settled = {
        "handover": "queued",
        "waiting": "queued",
        "moved": "queued",
        "cancelled": "cancelled",
        "parked": "parked",
        "waiting_for_human": "parked",
    }
    return settled.get(outcome) or STATES.get(outcome, "failed")


def _writes_no_file(kind: str, name: str) -> bool:
    """A live step whose own work changes no file of the work tree: a model call, the
    escalation record's (under ``.harness``, never checkpointed), a file tool's (its
    bytes are written once its end is recorded: the next step's first check sees them).
    No check after it: the one before found the tree it leaves (one ``git status`` each,
    ~4 of a run's ~34)."""
    return kind in ("llm", "escalation") or (kind == "tool" and name in WRITERS)


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
    checkpoint: Callable[[], None] | None = None
    """Called before each live step's work and after a live step that may change files
    (every one but a model call, an escalation step and a file tool's), before its end
    is journaled: the work-tree checkpoint
    of a PostgreSQL fleet (edits made between steps, like a file tool's bytes written
    after its step is recorded, are caught at the next step's start)."""
    steps: int = 0
    first_step: Callable[[], None] | None = None
    """Called as the drive's first live step begins (``fleet.trace``)."""

    def __call__(self) -> None:
        self._check()
        if self.inner is not None:
            self.inner()

    def wrap(self, kind: str, name: str, fn: Callable[[], T]) -> Callable[[], T]:
        work = fn if self.inner is None else self.inner.wrap(kind, name, fn)

        def guarded() -> T:
            self._check()
            if self.steps == 0 and self.first_step is not None:
                self.first_step()
            self.steps += 1
            if self.checkpoint is None:
                return work()
            self.checkpoint()
            if _writes_no_file(kind, name):
                return work()
            try:
                return work()
            finally:  # a failed step's edits are history too
                self.checkpoint()

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
    models: ModelMaker | None = None
    """How the runs build their models (``RunScope.models``; a test's entry only); None:
    the gateway."""
    journals: RunJournals | None = None
    """A PostgreSQL fleet's runs' journals (None: the embedded fleet, SQLite per run)."""
    moves: dict[str, str] = field(default_factory=dict)
    """Runs granted more than their class gives -> the class they move to: each stops at
    its next step boundary (``fleet.classes``)."""
    fenced_before: float = 0.0
    """Drives started before this time were handed to other workers (this one was
    declared lost): they stop at their next step."""
    drives: Drives | None = None
    """Where the worker's drives run and how their model calls wait (``fleet.drives``);
    None: each on the thread that calls it."""

    publish_retry_s: float = PUBLISH_RETRY_S
    """The first wait before a failed push is tried again (:data:`PUBLISH_RETRY_S`)."""
    classes: ClassTable | None = None
    """The fleet's classes table, made once per worker (each drive made it, and asked the
    database whether it existed: a statement per run taken over)."""
    trace: Trace | None = None
    """``HARNESS_FLEET_TRACE``'s file (``fleet.trace``), else None."""

    def aside(self, work: Callable[[], T]) -> T:
        """The fleet's own git work (a checkpoint, a clone, a push): parked off the drive
        thread on the worker's drives (``Drives.aside``), else on this thread."""
        return work() if self.drives is None else self.drives.aside(work)

    def mark(self, run_id: str, event: str) -> None:
        if self.trace is not None:
            self.trace.mark(run_id, event)

    def class_table(self) -> ClassTable:
        with self.lock:
            if self.classes is None:
                self.classes = ClassTable(self.db)
            return self.classes

    def should_stop(self, run_id: str) -> bool:
        if self.stopping.is_set() or run_id in self.cancelled or run_id in self.moves:
            return True
        return self.active.get(run_id, float("inf")) < self.fenced_before


@dataclass
class DriveResult:
    outcome: str  # complete, parked, budget, failed, handover, waiting, cancelled, moved
    detail: str = ""
    klass: str = ""
    """The class whose queue the next drive goes to ("": the run's own)."""


def prepare(state: WorkerState, run_id: str) -> RunRow:
    """The run's row, its project on this machine at its branch; answers given from any
    machine since it parked are delivered to its question store."""
    return _waiting(state, f"run {run_id}", lambda: _prepare(state, run_id))


def _prepare(state: WorkerState, run_id: str) -> RunRow:
    row, answers = _row_to_drive(state, run_id)
    folder = RunFolder(state.place.work_root(), run_id)
    _ensure(state, row, folder, answers)
    return row


def _ensure(state: WorkerState, row: RunRow, folder: RunFolder, answers: bool) -> Location:
    """The run's project on this machine (restored from its last checkpoint when this
    machine had none), answers delivered (``answers``: some wait); the run's journal."""
    where = _journal_of(state, row.id, folder)
    said = folder.ensure(row.project, row.id, row.base, _checkpoint_of(state, where), state.aside)
    if said:
        print(f"harness fleet worker {state.worker_id}: run {row.id}: {said}", flush=True)
    if answers:
        _deliver_answers(state.db, row.id, folder.project, where)
    return where


def _journal_of(state: WorkerState, run_id: str, folder: RunFolder) -> Location:
    """The run's journal: its schema in a PostgreSQL fleet, else SQLite in its folder."""

    if state.journals is None:
        return Location(folder.project / ".harness", project=str(folder.project))
    return state.journals.location(run_id, folder.project)


def _checkpoint_of(state: WorkerState, where: Location) -> RunCheckpoints | None:

    return None if state.journals is None else RunCheckpoints(state.journals, where)


def _run_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """What the run reads of the worker's environment: not where the fleet's database is
    (its commands would reach the database, and the secret journal keys derive from)."""

    hidden = (URL_VARIABLE, "HARNESS_JOURNAL_URL", "HARNESS_FLEET_HOME")
    return {k: v for k, v in environ.items() if k not in hidden}


def drive(state: WorkerState, run_id: str, drive_no: int) -> DriveResult:
    """Drive the run until it completes, parks, spends a budget, fails, or is stopped;
    through an outage of the fleet's database (``fleet.outage``)."""
    return _waiting(state, f"run {run_id}", lambda: _drive(state, run_id, drive_no))


def _waiting(state: WorkerState, what: str, attempt: Callable[[], T]) -> T:

    def say(text: str) -> None:
        print(f"harness fleet worker {state.worker_id}: {text}", flush=True)

    return until_reachable(attempt, what=what, stopping=state.stopping, say=say)


def _drive(state: WorkerState, run_id: str, drive_no: int) -> DriveResult:

    state.mark(run_id, "drive")
    row, answers = _row_to_drive(state, run_id)
    if row.state == "cancelled" or run_id in state.cancelled:
        return DriveResult("cancelled", "cancelled before this drive")
    folder = RunFolder(state.place.work_root(), run_id)
    environ = _run_environ(state.environ)
    if not folder.lock():
        return DriveResult("waiting", "another process of this machine holds the run")
    try:
        where = _ensure(state, row, folder, answers)
        state.db.update_run(
            run_id, state="running", worker=state.worker_id, drive=drive_no, detail=""
        )
        with state.lock:
            state.active[run_id] = time.time()
        state.mark(run_id, "running")
        overrides = {"model.name": row.model} if row.model else {}
        try:
            config = load_config(folder.project, env=environ, overrides=overrides)
        except Exception as error:  # a bad harness.toml: the run fails, saying why
            return _finish(state, run_id, DriveResult("failed", str(error)), folder.project)
        saver = None
        if state.journals is not None:
            saver = Checkpointer(
                state.journals, where, folder.project, row.base, folder.mark, state.aside
            )
        hooks = StopHooks(lambda: state.should_stop(run_id), inner=state.hooks, checkpoint=saver)
        if state.trace is not None:
            hooks.first_step = lambda: state.mark(run_id, "first-step")
        placement = ClassMove(state.class_table(), state, run_id, row.klass)
        scope = replace(
            run_scope(config, environ, hooks=hooks, models=state.models),
            journal=where,
            placement=placement,
            waits=state.drives,
        )
        try:
            report = run_project(folder.project, config, unattended=True, scope=scope)
        except Exception as error:  # a journal that cannot be trusted, a bug: said, not hidden
            return _finish(
                state,
                run_id,
                DriveResult("failed", f"{type(error).__name__}: {error}"),
                folder.project,
            )
        if saver is not None:
            _last_checkpoint(saver, run_id)
        state.db.update_run(
            run_id,
            passing=report.features_passing,
            total=report.features_total,
            tokens=report.tokens,
            cost_usd=report.cost_usd,
        )
        with state.lock:
            target = state.moves.pop(run_id, None)
        if report.outcome == "interrupted" and target is not None and run_id not in state.cancelled:
            state.db.update_run(run_id, klass=target)
            result = DriveResult("moved", f"moved from class {row.klass} to {target}", target)
        elif report.outcome == "interrupted":
            outcome = "cancelled" if run_id in state.cancelled else "handover"
            result = DriveResult(outcome, "the worker stopped at a step boundary")
        elif report.outcome == "waiting":
            result = DriveResult("waiting", report.detail)
        else:
            result = DriveResult(report.outcome, report.detail)
        if result.outcome == "waiting_for_human":
            _park(state.db, run_id, folder.project, where)
        return _finish(state, run_id, result, folder.project)
    finally:
        with state.lock:
            state.active.pop(run_id, None)
            state.moves.pop(run_id, None)
        folder.unlock()


def publish(state: WorkerState, run_id: str, final: str = "") -> str:
    """Push the run's commits to its branch in the project it came from; then, for a run
    its drive left ``publishing``, its ``final`` state (one of :data:`PUBLISHED_FIRST`):
    `status` never says a run is complete before its branch is there."""
    return _waiting(state, f"run {run_id}", lambda: _publish(state, run_id, final))


def _publish(state: WorkerState, run_id: str, final: str) -> str:
    folder = RunFolder(state.place.work_root(), run_id)
    head = folder.publish(run_id, state.aside)
    row = _row(state, run_id)
    extra = dict(row.extra)
    extra["published"] = head
    state.db.update_run(run_id, extra=extra, branch=branch_of(run_id))
    if final in PUBLISHED_FIRST:
        state.db.update_run(run_id, state=final, worker=None, only_if=("publishing",))
    return head


def unpublished(state: WorkerState, run_id: str, final: str, error: str) -> None:
    """The run's branch could not be pushed (its attempts spent): the run is failed,
    saying what it would have been, not ``final`` with no branch."""

    detail = f"{final}, but its branch {branch_of(run_id)} could not be pushed: {error}"
    state.db.update_run(
        run_id, state="failed", worker=None, detail=detail[:2000], only_if=("publishing",)
    )


def _last_checkpoint(saver: Checkpointer, run_id: str) -> None:
    """The tree as the drive leaves it (a run parked mid-session may go on elsewhere)."""

    try:
        saver()
    except StorageError as error:  # this machine's folder still has it
        print(f"harness fleet: run {run_id}: no last checkpoint: {error}", flush=True)


def _finish(state: WorkerState, run_id: str, result: DriveResult, root: Path) -> DriveResult:
    settled = fleet_state(result.outcome)
    if result.outcome == "waiting_for_human":
        result = DriveResult("parked", result.detail)
    detail = result.detail[:2000]
    if settled in PUBLISHED_FIRST:  # said by the publish step, once the branch is pushed
        state.db.update_run(
            run_id, state="publishing", detail=detail, only_if=("running", "queued")
        )
    else:
        state.db.update_run(
            run_id, state=settled, worker=None, detail=detail, only_if=("running", "queued")
        )
    return result


def _row(state: WorkerState, run_id: str) -> RunRow:
    row = state.db.run(run_id)
    if row is None:
        raise LookupError(f"no run {run_id} in {state.place.describe()}")
    return row


def _row_to_drive(state: WorkerState, run_id: str) -> tuple[RunRow, bool]:
    """The run's row, and whether answers wait for its question store (one query)."""
    row, answers = state.db.run_to_drive(run_id)
    if row is None:
        raise LookupError(f"no run {run_id} in {state.place.describe()}")
    return row, answers


def _park(db: FleetDb, run_id: str, root: Path, where: Location) -> None:
    """The run's pending questions go to the fleet's table, where any machine answers,
    with what the person answering needs: the context, the scores and the reason."""

    with QuestionStore(where, project_root=root) as store:
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
                context=q.context,
                scores=None if q.scores is None else q.scores.model_dump(mode="json"),
                reason=q.reason,
            )
            for q in pending
        ]
    )


def _deliver_answers(db: FleetDb, run_id: str, root: Path, where: Location) -> None:
    """Answers given in the fleet reach the run's own question store (once)."""
    settled = [q for q in db.questions_of(run_id) if q.status in SETTLED]
    if not settled:
        return

    with QuestionStore(where, project_root=root) as store:
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
