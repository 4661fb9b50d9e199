"""A worker's beat loop costs the same whatever the number of runs it drives: it asks the
fleet's database which of its runs were cancelled in one query (it asked once per run,
each second: with ~400 runs per worker on a loaded machine its beat stalled past the
10 s after which its peer declared it lost, and each took the other's runs over); taking
a lost peer's runs over, it queues their rows and DBOS's drives again in one statement
each."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fleet import worker
from fleet.app import Client, app_version, queue_name
from fleet.db import FleetDb, RunRow, WorkerRow
from fleet.drive import WorkerState
from fleet.place import fleet_place
from fleet.worker import _recover_lost, _watch_cancels
from tests.fleet.support import new_database

RUNS = 600  # over the 500 of one IN list


def test_the_cancel_watch_is_one_query_for_all_runs(tmp_path: Path) -> None:
    place = fleet_place(environ={"HARNESS_FLEET_HOME": str(tmp_path / "fleet")})
    db = FleetDb(place)
    try:
        for k in range(RUNS):
            db.add_run(RunRow(f"r{k:03d}", "/src", state="running"))
        db.update_run("r007", state="cancelled")
        db.update_run("r555", state="cancelled")
        state = WorkerState(worker_id="w", place=place, db=db, environ={})
        state.active.update({f"r{k:03d}": 0.0 for k in range(RUNS)})
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        db.sa.event.listen(db.engine, "before_cursor_execute", count)
        _watch_cancels(db, state)
        db.sa.event.remove(db.engine, "before_cursor_execute", count)
    finally:
        db.close()
    assert state.cancelled == {"r007", "r555"}
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 2, f"{len(selects)} queries for {RUNS} runs"


class Recovered:
    """DBOS's recovery of the lost worker's drives (``fleet.app.Client.recover``): each
    workflow back on its queue, where the live worker may start it at once."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def recover(self, worker_id: str) -> list[str]:
        return [f"{run}/drive/1" for run in self.ids]


@pytest.mark.slow  # 1.15 CPU-s
def test_a_lost_peers_runs_are_queued_again_in_one_statement(tmp_path: Path) -> None:
    """600 runs of a lost worker: their rows go back to queued in one UPDATE (it was one
    transaction per run, on the beat thread, before any taken run could be marked running
    here: ~600 transactions at 300 runs), and a run the live worker already started again
    (its recovered drive dequeued at once) stays running there (it was set back to
    queued, as if nobody drove it)."""
    place = fleet_place(environ={"HARNESS_FLEET_HOME": str(tmp_path / "fleet")})
    db = FleetDb(place)
    ids = [f"r{k:03d}" for k in range(RUNS)]
    try:
        for run in ids:
            db.add_run(RunRow(run, "/src", state="running"))
            db.update_run(run, worker="lost")
        db.update_run("r042", worker="live")  # taken and started here already
        now, version = time.time(), app_version()
        db.beat(WorkerRow("lost", "default", "h", 1, version, RUNS, now - 60, now - 99, "live"))
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        db.sa.event.listen(db.engine, "before_cursor_execute", count)
        moved = _recover_lost(db, Recovered(ids), "live", version, 10.0)
        db.sa.event.remove(db.engine, "before_cursor_execute", count)
        rows = {row.id: row for row in db.all_runs()}
    finally:
        db.close()
    assert len(moved) == RUNS
    assert (rows["r042"].state, rows["r042"].worker) == ("running", "live")
    assert all(r.state == "queued" and r.worker is None for k, r in rows.items() if k != "r042")
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) <= 2, f"{len(updates)} updates for {RUNS} runs"  # the peer's row, runs


DRIVES = 120


@pytest.mark.parametrize("where", ["embedded", "postgres"])
def test_a_lost_workers_drives_go_back_to_their_queue_in_one_statement(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """DBOS's recovery of a lost worker's pending drives: one UPDATE for all of them (DBOS's
    own call is a transaction per drive: 300 took 5.7 s on the beat thread of a loaded
    worker, the last drive waiting for all); each is back on its queue, and a drive a live
    worker already took is not matched."""
    import sqlalchemy as sa

    url = new_database(request.getfixturevalue("pg_server")) if where == "postgres" else None
    place = fleet_place(url, environ={"HARNESS_FLEET_HOME": str(tmp_path / "fleet")})
    client = Client(place)
    ids = [client.enqueue(f"r{k:03d}", 1, "default") for k in range(DRIVES)]
    sys_db = client.client._sys_db
    status = sys_db.tables.workflow_status
    try:
        with sys_db.engine.begin() as conn:  # dequeued by the worker that was then lost
            conn.execute(sa.update(status).values(status="PENDING", executor_id="lost"))
            taken = status.c.workflow_uuid == ids[7]
            conn.execute(sa.update(status).where(taken).values(executor_id="live"))
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        sa.event.listen(sys_db.engine, "before_cursor_execute", count)
        moved = client.recover("lost")
        sa.event.remove(sys_db.engine, "before_cursor_execute", count)
        with sys_db.engine.begin() as conn:
            rows = {
                row.workflow_uuid: (row.status, row.queue_name)
                for row in conn.execute(sa.select(status))
            }
    finally:
        client.close()
    assert sorted(moved) == sorted(ids[:7] + ids[8:])
    assert rows.pop(ids[7])[0] == "PENDING"
    assert set(rows.values()) == {("ENQUEUED", queue_name("default"))}
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1, f"{len(updates)} updates for {DRIVES} drives"


def test_a_lost_peer_is_asked_for_until_its_drives_are_taken_not_forever(
    tmp_path: Path,
) -> None:
    """A worker's beat asks DBOS for a lost or stopped peer's drives until a recovery finds
    none left, then no more while the peer stays down (before: for every such peer, every
    second, forever: a query per peer ever lost, per worker, per second). A peer that
    beats again and is lost again is asked for again, and its new drives are taken."""
    import sqlalchemy as sa

    place = fleet_place(environ={"HARNESS_FLEET_HOME": str(tmp_path / "fleet")})
    client = Client(place)
    db = FleetDb(place)
    sys_db = client.client._sys_db
    status = sys_db.tables.workflow_status

    def lose_drives(worker: str, ids: list[str]) -> None:  # dequeued by it, then it was lost
        with sys_db.engine.begin() as conn:
            query = sa.update(status).where(status.c.workflow_uuid.in_(ids))
            conn.execute(query.values(status="PENDING", executor_id=worker))

    asks: list[str] = []

    def count(*args: Any) -> None:
        if "workflow_status" in args[2] and args[2].lstrip().upper().startswith("SELECT"):
            asks.append(args[2])

    now, version = time.time(), app_version()
    asked: dict[str, tuple[float, float]] = {}
    try:
        db.beat(WorkerRow("stopped", "default", "h", 1, version, 5, now - 99, now - 99, "stopped"))
        db.beat(WorkerRow("gone", "default", "h", 2, version, 5, now - 60, now - 99, "live"))
        lose_drives("gone", [client.enqueue(f"a{k}", 1, "default") for k in range(3)])
        sa.event.listen(sys_db.engine, "before_cursor_execute", count)
        beats = [_recover_lost(db, client, "live", version, 10.0, asked=asked) for _ in range(5)]
        assert [len(moved) for moved in beats] == [3, 0, 0, 0, 0]
        # two peers: the stopped one asked once (nothing), the lost one until none is left
        assert len(asks) == 3, f"{len(asks)} recoveries asked for in 5 beats"

        db.beat(WorkerRow("gone", "default", "h", 2, version, 5, time.time(), now, "live"))
        assert _recover_lost(db, client, "live", version, 10.0, asked=asked) == []
        lose_drives("gone", [client.enqueue(f"b{k}", 1, "default") for k in range(2)])
        db.beat(WorkerRow("gone", "default", "h", 2, version, 5, time.time() - 30, now, "live"))
        asks.clear()
        again = [_recover_lost(db, client, "live", version, 10.0, asked=asked) for _ in range(3)]
        assert [len(moved) for moved in again] == [2, 0, 0]
        assert len(asks) == 2, f"{len(asks)} recoveries asked for in 3 beats"
        assert {w.id: w.state for w in db.all_workers()}["gone"] == "lost"
    finally:
        sa.event.remove(sys_db.engine, "before_cursor_execute", count)
        client.close()
        db.close()


def test_a_peer_still_down_is_asked_for_again_in_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost peer whose recovery found nothing may still take a drive (alive, its beats
    not reaching the fleet) and die with it: once every ``REASK_S`` the peer is asked for
    again, so that drive is recovered without an operator's `harness fleet recover`."""
    import sqlalchemy as sa

    place = fleet_place(environ={"HARNESS_FLEET_HOME": str(tmp_path / "fleet")})
    client = Client(place)
    db = FleetDb(place)
    sys_db = client.client._sys_db
    status = sys_db.tables.workflow_status
    now, version = time.time(), app_version()
    asked: dict[str, tuple[float, float]] = {}
    try:
        db.beat(WorkerRow("mute", "default", "h", 2, version, 5, now - 60, now - 99, "live"))
        assert _recover_lost(db, client, "live", version, 10.0, asked=asked) == []
        assert _recover_lost(db, client, "live", version, 10.0, asked=asked) == []
        late = client.enqueue("late", 1, "default")  # taken by the mute peer, which then dies
        with sys_db.engine.begin() as conn:
            query = sa.update(status).where(status.c.workflow_uuid == late)
            conn.execute(query.values(status="PENDING", executor_id="mute"))
        assert _recover_lost(db, client, "live", version, 10.0, asked=asked) == []  # not yet
        monkeypatch.setattr(worker, "REASK_S", 0.0, raising=False)  # a minute later
        assert len(_recover_lost(db, client, "live", version, 10.0, asked=asked)) == 1
    finally:
        client.close()
        db.close()


def test_a_beat_reads_the_fleet_s_workers_once(tmp_path: Path) -> None:
    """One beat (``fleet.worker._beat``: the fence, the beat, the cancels, the lost peers)
    reads the fleet's workers once: the fence and the recovery each read them, two
    identical queries a second per worker. Both still act on what was read: a lost
    peer's drives are taken in that beat, and a worker a peer declared lost is fenced."""
    place = fleet_place(environ={"HARNESS_FLEET_HOME": str(tmp_path / "fleet")})
    db = FleetDb(place)
    now, version = time.time(), app_version()
    state = WorkerState(worker_id="live", place=place, db=db, environ={})
    me = WorkerRow("live", "default", "h", 1, version, 5, now, now, "live")
    selects: list[str] = []

    def count(*args: Any) -> None:
        text = args[2].lstrip()
        if text.upper().startswith("SELECT") and "harness_fleet_workers" in text:
            selects.append(text)

    try:
        db.beat(WorkerRow("gone", "default", "h", 2, version, 5, now - 60, now - 99, "live"))
        db.sa.event.listen(db.engine, "before_cursor_execute", count)
        recovered = Recovered(["r1", "r2"])
        worker._beat(db, recovered, state, me, 10.0, {})
        assert len(selects) == 1, selects
        assert {w.id: w.state for w in db.all_workers()}["gone"] == "lost"
        db.set_worker_state("live", "lost")  # a peer declared this one lost
        assert state.fenced_before == 0.0
        selects.clear()
        worker._beat(db, recovered, state, me, 10.0, {})
        assert len(selects) == 1, selects
        assert state.fenced_before > 0.0
    finally:
        db.sa.event.remove(db.engine, "before_cursor_execute", count)
        db.close()


def test_an_idle_worker_s_dbos_notifier_wakes_once_a_second(tmp_path: Path) -> None:
    """DBOS's notifier thread sends the events and streams written since its last wake; the
    fleet writes neither, and at DBOS's default (0.01 s) an idle worker's notifier woke ~90
    times a second (1,760 wakes in 20 s, 0.11 CPU-s: every worker, all its life). DBOS
    reads the setting from the worker's configuration."""
    from dbos._dbos_config import translate_dbos_config_to_config_file

    place = fleet_place(environ={"HARNESS_FLEET_HOME": str(tmp_path)})
    config = worker.dbos_config(place, "w1", app_version())
    assert config["executor_id"] == "w1" and config["application_version"] == app_version()
    assert config.get("notification_coalesce_sec", 0.01) >= worker.BEAT_S
    runtime = translate_dbos_config_to_config_file(config)["runtimeConfig"]
    assert runtime.get("notification_coalesce_sec") == worker.NOTIFY_S
