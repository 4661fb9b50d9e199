"""The drive workflow, registered with DBOS in a worker process.

DBOS is one per process (its registry and executor are process-wide), so the worker's
state is too: :data:`current` is set by :func:`fleet.worker.serve` before DBOS launches,
and read by the steps below. Nothing else of harness holds process state for a run.

The workflow and its steps are coroutines on DBOS's event loop: a drive waiting holds no
DBOS executor thread. Each step's work runs on the worker's drives (``fleet.drives``: a
few host threads, a model wait parked on the worker's loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from dbos import DBOS, StepOptions
from dbos._error import DBOSMaxStepRetriesExceeded

from fleet.app import CONTINUE, DRIVE, app_version, queue_name, workflow_id
from fleet.drive import (
    PUBLISH_ATTEMPTS,
    PUBLISHED_FIRST,
    WAIT_AGAIN_S,
    fleet_state,
    prepare,
    publish,
    unpublished,
)
from fleet.drive import drive as drive_once
from fleet.drives import PREPARING, STARTING

if TYPE_CHECKING:
    from fleet.drive import WorkerState

T = TypeVar("T")

current: WorkerState | None = None


def _state() -> WorkerState:
    if current is None:
        raise RuntimeError("the fleet's drive workflow runs only in `harness fleet worker`")
    return current


async def _on_drives(work: Callable[[], T], tier: int = PREPARING) -> T:
    """``work()`` on the worker's drives in ``tier`` (``fleet.drives``), awaited (no
    thread held while it waits)."""
    drives = _state().drives
    if drives is None:
        return await asyncio.to_thread(work)
    return await asyncio.wrap_future(drives.start(work, tier))


@DBOS.step(name="prepare")
async def prepare_step(run_id: str) -> str:

    return (await _on_drives(lambda: prepare(_state(), run_id))).klass


@DBOS.step(name="drive")
async def drive_step(run_id: str, drive: int) -> list[str]:

    result = await _on_drives(lambda: drive_once(_state(), run_id, drive), STARTING)
    return [result.outcome, result.detail, result.klass]


async def publish_step(run_id: str, final: str = "") -> str:
    """The DBOS step ``publish``, its attempts spaced by the worker's ``--publish-retry``
    (``fleet.drive.PUBLISH_RETRY_S``, doubling)."""

    async def publish_once(run_id: str, final: str) -> str:
        return await _on_drives(lambda: publish(_state(), run_id, final))

    options: StepOptions = {
        "name": "publish",
        "retries_allowed": True,
        "max_attempts": PUBLISH_ATTEMPTS,
        "interval_seconds": _state().publish_retry_s,
    }
    return await DBOS.run_step_async(options, publish_once, run_id, final)


@DBOS.step(name="unpublished")
async def unpublished_step(run_id: str, final: str, error: str) -> None:

    await _on_drives(lambda: unpublished(_state(), run_id, final, error))


async def _enqueue_next(run_id: str, drive: int, klass: str, delay_s: float) -> None:
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
    await DBOS.enqueue_workflow_with_options_async(options, run_id, drive)  # type: ignore[arg-type]


@DBOS.workflow(name=DRIVE)
async def drive_workflow(run_id: str, drive: int) -> str:
    """prepare -> drive -> publish; a hand-over or a wait enqueues the next drive. A run
    that ended (complete, failed, budget) is ``publishing`` until publish has pushed its
    branch and says so: a worker lost in between leaves the workflow to recover, whose
    publish pushes and then says it."""

    _state().mark(run_id, "workflow")
    klass = await prepare_step(run_id)
    _state().mark(run_id, "prepared")
    outcome, _detail, *moved = await drive_step(run_id, drive)  # (a drive before moves: 2 items)
    if moved and moved[0]:
        klass = moved[0]  # granted more than its class gives: the next drive goes there
    final = fleet_state(outcome)
    final = final if final in PUBLISHED_FIRST else ""
    if outcome not in ("cancelled",):
        try:
            await publish_step(run_id, final)
        except DBOSMaxStepRetriesExceeded as error:
            if not final:
                raise
            last = error.errors[-1] if error.errors else error  # the push's own words
            await unpublished_step(run_id, final, f"{type(last).__name__}: {last}")
            return "failed"
    if outcome in CONTINUE:
        delay = WAIT_AGAIN_S if outcome == "waiting" else 0.0
        await _enqueue_next(run_id, drive + 1, klass, delay)
    return outcome
