"""Resource classes: each a queue of runs, with the most a command of its runs may get.

A worker says what its machine gives its class (`harness fleet worker --class C
--max-memory-mb N --max-cpus N --max-timeout-s S --max-gpus N`); the fleet keeps each
class's maxima in its database (the last worker of the class started with maxima sets
them, as ``--runs`` sets the queue's limit). A class with no maxima bounds nothing.

What ``request_resources`` grants is placed (:class:`ClassMove`, the run's
``ResourcePlacement``): within the run's class it is granted as on one machine; above it,
the run moves to the smallest configured class that gives all of it, at its next step
boundary (the drive stops there and the next drive is enqueued on that class's queue):
the agent is told so in the tool's answer, the operator in the worker's log and the
run's detail. Where no class gives it, the request is refused (nothing granted), naming
each class's maxima.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleet.db import FleetDb
    from fleet.drive import WorkerState

FIELDS = ("memory_mb", "cpus", "timeout_s", "gpus")


@dataclass(frozen=True)
class Limits:
    """A class and its maxima (None: not bounded)."""

    name: str
    maxima: Mapping[str, float | None]

    def gives(self, wanted: Mapping[str, float]) -> bool:
        return all(
            (most := self.maxima.get(key)) is None or value <= most for key, value in wanted.items()
        )

    def size(self) -> tuple[float, ...]:
        return tuple(math.inf if (v := self.maxima.get(k)) is None else v for k in FIELDS)

    def describe(self) -> str:
        said = [f"{k} <= {v:g}" for k in FIELDS if (v := self.maxima.get(k)) is not None]
        return f"'{self.name}' ({', '.join(said) or 'no maxima'})"


class ClassTable:
    """The fleet's classes and their maxima (``harness_fleet_classes``)."""

    def __init__(self, db: FleetDb) -> None:
        sa = db.sa
        self.db = db
        meta = sa.MetaData()
        self.table = sa.Table(
            "harness_fleet_classes",
            meta,
            sa.Column("name", sa.Text, primary_key=True),
            *[sa.Column(key, sa.Float) for key in FIELDS],
            sa.Column("updated_at", sa.Float, nullable=False),
        )
        try:
            with db.engine.begin() as conn:
                meta.create_all(conn, checkfirst=True)
        except sa.exc.SQLAlchemyError:  # another process made it at the same time
            with db.engine.begin() as conn:
                meta.create_all(conn, checkfirst=True)

    def declare(self, name: str, maxima: Mapping[str, float | None]) -> None:
        values: dict[str, Any] = {key: maxima.get(key) for key in FIELDS}
        values["updated_at"] = time.time()
        table = self.table
        with self.db.engine.begin() as conn:
            done = conn.execute(table.update().where(table.c.name == name).values(**values))
            if not done.rowcount:
                conn.execute(table.insert().values(name=name, **values))

    def all(self) -> dict[str, Limits]:
        with self.db.engine.begin() as conn:
            rows = conn.execute(self.table.select()).mappings().all()
        return {row["name"]: Limits(row["name"], {key: row[key] for key in FIELDS}) for row in rows}


def choose(classes: Mapping[str, Limits], current: str, wanted: Mapping[str, float]) -> str | None:
    """The class a run of ``current`` granted ``wanted`` runs in: its own when it gives it
    (or declares no maxima), else the smallest that does; None: no class does."""
    own = classes.get(current)
    if own is None or own.gives(wanted):
        return current
    fits = [limits for limits in classes.values() if limits.gives(wanted)]
    return min(fits, key=Limits.size).name if fits else None


@dataclass
class ClassMove:
    """A fleet run's ``ResourcePlacement``: a grant its class cannot give moves it."""

    table: ClassTable
    state: WorkerState
    run_id: str
    current: str

    def place(self, granted: Mapping[str, float]) -> tuple[bool, str]:
        classes = self.table.all()
        target = choose(classes, self.current, granted)
        wanted = ", ".join(f"{k}={v:g}" for k, v in granted.items() if k in FIELDS)
        if target is None:
            known = "; ".join(limits.describe() for limits in classes.values())
            return False, (
                f"no resource class of this fleet gives {wanted} (classes: {known}); nothing "
                "was granted: ask for what a class gives, or ask_human"
            )
        if target == self.current:
            return True, ""
        with self.state.lock:
            self.state.moves[self.run_id] = target
        print(
            f"harness fleet worker {self.state.worker_id}: run {self.run_id} moves from class "
            f"'{self.current}' to {classes[target].describe()} at its next step "
            f"(request_resources: {wanted})",
            flush=True,
        )
        return True, (
            f"the run's resource class {classes[self.current].describe()} does not give it: "
            f"the run moves to class {classes[target].describe()} at its next step, and its "
            "next commands run there"
        )
