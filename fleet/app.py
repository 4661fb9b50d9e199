"""The fleet on DBOS: the drive workflow, its queues and its application version.

A run is a chain of coarse DBOS workflows on the queue of its resource class: each drive
is one workflow ``<run>/drive/<n>`` of three DBOS steps, prepare (the project on this
machine at the run's commit), drive (the existing run code until complete, parked, budget,
failure or a hand-over) and publish (the session commits pushed to the run's branch).
DBOS steps cost ~27 ms each, so a drive has three, never one per harness step: the steps
inside a drive go to the harness journal. A parked run's workflow ends (it holds no queue
slot); an answer enqueues drive ``n+1`` under its deterministic id, so answering twice
enqueues it once.

This module is imported by the worker and by the commands that enqueue (``dbos`` is
heavy: ``harness --help`` and ``harness status`` never import it).
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from harness.journal.sqlite.schema import SCHEMA_VERSION  # the journal's row format

if TYPE_CHECKING:
    from fleet.place import Place

APP_NAME = "harness-fleet"
DRIVE = "harness.fleet.drive"
QUEUE_PREFIX = "harness-"
# Outcomes of a drive after which the run goes on in a next drive, enqueued at once.
CONTINUE = ("handover", "waiting", "moved")
CLIENT_POOL = 5
"""A client's connections to DBOS's tables (DBOS's default), besides its LISTEN one: a
worker's enqueues and recovers from its beat thread, a command once."""


def app_version() -> str:
    """The worker's DBOS application version: the journal format's. DBOS recovers a
    workflow only on an executor of its version, so a worker never replays a journal it
    does not understand; `status` lists the runs of other versions."""

    return f"journal-{SCHEMA_VERSION}"


def queue_name(klass: str) -> str:
    return QUEUE_PREFIX + klass


def workflow_id(run_id: str, drive: int) -> str:
    return f"{run_id}/drive/{drive}"


def quiet_dbos() -> None:
    """DBOS logs at INFO to the console by default: keep warnings only."""

    logging.getLogger("dbos").setLevel(logging.WARNING)


def migrate(place: Place) -> None:
    """DBOS's tables in the fleet's database (made once; a no-op after)."""
    from dbos import DBOS

    quiet_dbos()
    DBOS.migrate(place.dbos_url())


class Client:
    """Enqueue, cancel and recover from any process (DBOS's client: no workflow code)."""

    def __init__(self, place: Place) -> None:
        from dbos import DBOSClient

        quiet_dbos()
        migrate(place)
        self.client = DBOSClient(
            system_database_url=place.dbos_url(),
            system_database_pool_size=CLIENT_POOL,
            application_name=APP_NAME,
        )

    def enqueue(self, run_id: str, drive: int, klass: str, *, delay_s: float = 0) -> str:
        """Enqueue drive ``drive`` of the run (its id is deterministic: twice is once)."""
        options: dict[str, Any] = {
            "queue_name": queue_name(klass),
            "workflow_name": DRIVE,
            "workflow_id": workflow_id(run_id, drive),
            "app_version": app_version(),
        }
        if delay_s:
            options["delay_seconds"] = delay_s
        self.client.enqueue(options, run_id, drive)  # type: ignore[arg-type]
        return workflow_id(run_id, drive)

    def cancel(self, run_id: str, drive: int) -> None:

        from dbos._error import DBOSNonExistentWorkflowError

        with contextlib.suppress(DBOSNonExistentWorkflowError):  # never enqueued: nothing to stop
            self.client.cancel_workflow(workflow_id(run_id, drive))

    def recover(self, worker_id: str) -> list[str]:
        """DBOS's own recovery for a lost executor: its PENDING workflows of this version
        go back to their queues, for any live worker to take (idempotent: a workflow a
        live worker took already is not matched again). DBOS's ``reenqueue_for_recovery``
        is one transaction per workflow: 300 of them took 5.7 s on a loaded machine,
        before the last could be dequeued; here its statement, for many at once."""
        sys_db = self.client._sys_db
        ids = [w.workflow_id for w in sys_db.get_pending_workflows(worker_id, app_version())]
        moved: list[str] = []
        for start in range(0, len(ids), 500):  # within every database's bound on IN
            moved.extend(_reenqueue(sys_db, ids[start : start + 500], worker_id))
        return moved

    def pending_of(self, worker_id: str) -> list[str]:
        sys_db = self.client._sys_db
        return [w.workflow_id for w in sys_db.get_pending_workflows(worker_id, app_version())]

    def close(self) -> None:
        self.client.destroy()


def _reenqueue(sys_db: Any, ids: list[str], worker_id: str) -> list[str]:
    """``SystemDatabase.reenqueue_for_recovery`` (the same predicate and values) for
    ``ids`` in one statement; those re-enqueued."""
    import sqlalchemy as sa
    from dbos._sys_db import WorkflowStatusString
    from dbos._utils import INTERNAL_QUEUE_NAME

    status = sys_db.tables.workflow_status
    query = (
        sa.update(status)
        .where(*sys_db._wf_in(status, ids))
        .where(status.c.status == WorkflowStatusString.PENDING.value)
        .where(status.c.executor_id == worker_id)
        .values(
            status=WorkflowStatusString.ENQUEUED.value,
            owner_xid=None,
            started_at_epoch_ms=None,
            updated_at=sys_db._now_ms_sql(),
            queue_name=sa.func.coalesce(status.c.queue_name, INTERNAL_QUEUE_NAME),
        )
        .returning(status.c.workflow_uuid)
    )
    with sys_db.engine.begin() as conn:
        return [str(row[0]) for row in conn.execute(query)]
