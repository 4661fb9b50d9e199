"""What a run taken over from a lost worker costs the worker taking it, before its first
step: a worker takes hundreds at once, each on one of a few drive threads and one core, so
each statement to the fleet's database (a round trip, CPU on both sides) counts.

The run is driven in this process by a worker state as `harness fleet worker` makes it
(real PostgreSQL, the run's journal in its schema, real git): a first worker stops dead
mid-step, the second drives it again up to its first live step."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fleet.db import FleetDb, RunRow
from fleet.drive import WorkerState, drive, prepare
from fleet.place import Place
from fleet.project import head_of
from fleet.runjournal import RunJournals
from harness.journal.postgres.pool import Pool
from tests.fleet.support import new_database, scripted_project

T = TypeVar("T")


def _statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement psycopg sends from now on (its text, spaces folded, cut at 100)."""
    import psycopg

    sent: list[str] = []
    real = psycopg.Cursor.execute

    def counted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(" ".join(str(query).split())[:100])
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return sent


class Killed(BaseException):
    """The worker's process dies here (nothing below it runs, nothing is cleaned up)."""


class StepHooks:
    """A worker's step hooks (``harness.scope.StepHooks``): die before live step ``n``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.live = 0

    def __call__(self) -> None:
        pass

    def wrap(self, kind: str, name: str, fn: Callable[[], T]) -> Callable[[], T]:
        def step() -> T:
            self.live += 1
            if self.live >= self.n:
                raise Killed()
            return fn()

        return step


def _worker(name: str, place: Place, db: FleetDb, url: str, die_at: int) -> WorkerState:
    state = WorkerState(name, place, db, dict(os.environ), hooks=StepHooks(die_at))
    state.journals = RunJournals(place, Pool(url, 4, name=f"harness test {name}"))
    return state


def test_a_run_taken_over_reaches_its_first_step_in_few_statements(
    pg_server: Any, tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 38 statements (the run's schema made in a transaction of four, its last
    checkpoint read in two statements twice, a ping before each of the fleet's own, the
    journal's meta in three, the questions of a run with none asked for, the classes'
    table looked for, the run's meta written unchanged, its sessions read twice in a
    row); now 22."""
    url = new_database(pg_server)
    source = scripted_project(tmp_path / "source", count=1, latency_s=0.0)
    place = Place(url, tmp_path / "fleet")
    db = FleetDb(place)
    db.add_run(RunRow("r", str(source), version="x", base=head_of(str(source)), extra={}))
    lost = _worker("lost", place, db, url, die_at=7)
    prepare(lost, "r")
    with pytest.raises(Killed):
        drive(lost, "r", 1)
    assert lost.journals is not None and lost.journals.pool is not None
    lost.journals.pool.close()  # its process is gone: its run lock with it

    taker = _worker("taker", place, db, url, die_at=1)
    taker.class_table()  # as a running worker has them: its classes, its open connections
    assert taker.journals is not None and taker.journals.pool is not None
    taker.journals.pool.sql(url).execute("SELECT 1")
    taker.journals.pool.unlock(*taker.journals.pool.try_lock(1))
    sent = _statements(monkeypatch)
    with pytest.raises(Killed):  # at its first live step: the journal replayed up to it
        drive(taker, "r", 2)
    monkeypatch.undo()
    hooks = taker.hooks
    assert isinstance(hooks, StepHooks) and hooks.live == 1
    assert len(sent) <= 22, "\n".join(sent)
    assert not any(s.startswith("BEGIN") for s in sent), sent  # no transaction of its own
    db.close()


def test_the_fleet_s_statements_send_no_ping_and_skip_a_closed_connection(
    own_pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fleet's own tables (a worker's beat every second, each run it takes over): one
    round trip per statement (before, SQLAlchemy's ``pool_pre_ping`` sent a ping before
    each); idle connections the server closed since (a restart) are still never used."""
    db = FleetDb(Place(new_database(own_pg_server), tmp_path))
    try:
        db.add_run(RunRow("r", "/p", version="x", base="b", extra={}))
        sent = _statements(monkeypatch)
        for _ in range(3):
            row, answers = db.run_to_drive("r")
            assert row is not None and row.id == "r" and not answers
        assert len(sent) == 3, sent
        own_pg_server.stop("fast")
        own_pg_server.start()
        for _ in range(3):  # the pool's idle connection is dropped, not used
            assert db.run_to_drive("r")[0] is not None
    finally:
        db.close()
