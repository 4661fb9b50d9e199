"""Submitting a run: its row in the fleet's table and its first drive on its class's queue.

Idempotent by the run id: a run that exists for the same project is enqueued again only
while it is queued (the drive's workflow id is deterministic, so that is harmless), and a
run id taken by another project is refused. `harness fleet submit` calls it once per
process; a script submitting many runs (bench/fleet.py) calls it with one database and one
DBOS client for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fleet.app import app_version
from fleet.db import RunRow
from fleet.place import FleetError
from fleet.project import head_of

if TYPE_CHECKING:
    from fleet.app import Client
    from fleet.db import FleetDb


def submit(
    db: FleetDb,
    client: Callable[[], Client],
    run_id: str,
    source: str,
    *,
    model: str = "",
    klass: str = "default",
    base: str | None = None,
) -> RunRow:
    """Add the run (at ``base``, else the source's HEAD now) and enqueue its drive; the
    run's row. ``client`` gives the DBOS client, made only when a drive is enqueued."""
    existing = db.run(run_id)
    if existing is not None and existing.project != source:
        raise FleetError(
            f"--id {run_id}: that run exists for another project ({existing.project}); "
            "choose another id"
        )
    if existing is None:
        row = RunRow(
            run_id,
            source,
            model=model,
            klass=klass,
            version=app_version(),
            base=base or head_of(source),
            extra={},
        )
        db.add_run(row)
        existing = db.run(run_id)
    assert existing is not None
    if existing.state == "queued":
        client().enqueue(run_id, existing.drive, existing.klass)
    return existing
