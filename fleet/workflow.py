"""The drive workflow, registered with DBOS in a worker process.

DBOS is one per process (its registry and executor are process-wide), so the worker's
state is too: :data:`current` is set by :func:`fleet.worker.serve` before DBOS launches,
and read by the steps below. Nothing else of harness holds process state for a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbos import DBOS

from fleet.app import CONTINUE, DRIVE, app_version, queue_name, workflow_id
from fleet.drive import WAIT_AGAIN_S, prepare, publish
from fleet.drive import drive as drive_once

if TYPE_CHECKING:
    from fleet.drive import WorkerState

current: WorkerState | None = None


def _state() -> WorkerState:
    if current is None:
        raise RuntimeError("the fleet's drive workflow runs only in `harness fleet worker`")
    return current


@DBOS.step(name="prepare")
def prepare_step(run_id: str) -> str:

    return prepare(_state(), run_id).klass


@DBOS.step(name="drive")
def drive_step(run_id: str, drive: int) -> list[str]:

    result = drive_once(_state(), run_id, drive)
    return [result.outcome, result.detail, result.klass]


@DBOS.step(name="publish", retries_allowed=True, max_attempts=5, interval_seconds=2.0)
def publish_step(run_id: str) -> str:

    return publish(_state(), run_id)


def _enqueue_next(run_id: str, drive: int, klass: str, delay_s: float) -> None:
    """Enqueue the run's next drive as a child of this workflow (deterministic id: it is
    enqueued once, whoever asks, a recovered workflow included)."""
    options: dict[str, object] = {
        "queue_name": queue_name(klass),
        "workflow_name": DRIVE,
        "workflow_id": workflow_id(run_id, drive),
        "app_version": app_version(),
    }
    if delay_s:
        options["delay_seconds"] = delay_s
    DBOS.enqueue_workflow_with_options(options, run_id, drive)  # type: ignore[arg-type]


@DBOS.workflow(name=DRIVE)
def drive_workflow(run_id: str, drive: int) -> str:
    """prepare -> drive -> publish; a hand-over or a wait enqueues the next drive."""

    klass = prepare_step(run_id)
    outcome, _detail, *moved = drive_step(run_id, drive)  # (a drive before moves: 2 items)
    if moved and moved[0]:
        klass = moved[0]  # granted more than its class gives: the next drive goes there
    if outcome not in ("cancelled",):
        publish_step(run_id)
    if outcome in CONTINUE:
        delay = WAIT_AGAIN_S if outcome == "waiting" else 0.0
        _enqueue_next(run_id, drive + 1, klass, delay)
    return outcome
