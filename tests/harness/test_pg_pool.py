"""Journals sharing a process's PostgreSQL connections (``harness.journal.postgres.pool``):
many journals written at once hold the pool's connections only, each step's append stays
one transaction and each chain verifies; the run locks stay exclusive inside the process,
and a lock connection lost while the process lives fences the stores that locked through
it, so another driver's takeover is safe. The journal's whole conformance suite also runs
through a pool (``pooled`` in tests/stores.py)."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.errors import RunLocked, StorageError
from harness.journal import Journal, Location
from harness.journal.postgres.connect import LIVENESS, connect
from harness.journal.postgres.pool import Pool
from harness.journal.verify import verify
from tests.stores import raw

NAME = "harness test pool"


def _connections(server: Any) -> int:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (NAME,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_many_journals_at_once_hold_the_pools_connections_only(
    pg_server: Any, tmp_path: Path
) -> None:
    pool = Pool(pg_server.url(), 2, name=NAME)
    runs = 12
    places = [
        Location(
            tmp_path / f"p{k}" / ".harness", url=pg_server.new_schema(), project=f"p{k}", pool=pool
        )
        for k in range(runs)
    ]
    most = 0
    gate = threading.Barrier(runs + 1)
    done = threading.Event()
    errors: list[BaseException] = []

    def drive(where: Location) -> None:
        try:
            with Journal.open(where) as journal:
                run = journal.start_run()
                gate.wait()  # every journal open (and its run locked) at once
                session = run.session(1)
                for k in range(20):
                    session.step("tool", f"s{k}", {"k": k}, lambda k=k: {"k": k, "pad": "x" * 400})
                session.close("progress", {})
                run.finish("complete", {})
        except BaseException as error:
            errors.append(error)
            raise

    threads = [threading.Thread(target=drive, args=(where,)) for where in places]
    for thread in threads:
        thread.start()
    gate.wait(timeout=120)
    while any(t.is_alive() for t in threads):
        most = max(most, _connections(pg_server))
        done.wait(0.01)
    for thread in threads:
        thread.join()
    assert not errors
    try:
        assert 0 < most <= 3, f"{most} connections for {runs} journals (pool of 2 + its lock)"
        assert pool.most <= 2
        for where in places:
            report = verify(where)
            assert report.ok, report
            with Journal.open(where) as journal:
                steps = journal.steps()
                assert [s.name for s in steps] == [f"s{k}" for k in range(20)]
                assert all(s.status == "ended" and s.attempts == 1 for s in steps)
    finally:
        pool.close()


def test_a_run_locked_by_one_store_of_the_pool_is_refused_to_another(
    pg_url: str, tmp_path: Path
) -> None:
    pool = Pool(pg_url, 2, name=NAME)
    where = Location(tmp_path / ".harness", url=pg_url, project="p", pool=pool)
    try:
        with Journal.open(where) as first:
            run = first.start_run()
            # the server's advisory locks are per connection: both stores share the pool's
            with Journal.open(where) as second, pytest.raises(RunLocked):
                second.resume_run(run.id)
        with Journal.open(where) as third:
            third.resume_run(run.id)  # released when the first closed
        leaked = Journal.open(where)
        leaked.resume_run(run.id)
        del leaked  # never closed: its lock goes with it, as its own connection's did
        gc.collect()
        with Journal.open(where) as fourth:
            fourth.resume_run(run.id)
    finally:
        pool.close()


def test_a_lost_lock_connection_fences_its_stores_and_another_driver_takes_over(
    pg_server: Any, tmp_path: Path
) -> None:
    url = pg_server.new_schema()
    pool = Pool(url, 2, name=NAME)
    where = Location(tmp_path / ".harness", url=url, project="p", pool=pool)
    alone = Location(tmp_path / ".harness", url=url, project="p")  # another process's
    journal = Journal.open(where)
    try:
        run = journal.start_run()
        session = run.session(1)
        session.step("tool", "before", {}, lambda: 1)
        killed = raw(
            alone,
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        assert killed == [(True,)]  # the one lock connection
        deadline = time.monotonic() + 60  # liveness bound only
        while raw(alone, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") != [(0,)]:
            assert time.monotonic() < deadline, "the terminated backend kept its lock"
            time.sleep(0.05)
        with Journal.open(alone) as other:  # its lock died with it: another takes the run
            door = other.resume_run(run.id).session(1)
            door.step("tool", "before", {}, lambda: 1)  # in flight there: run again
            door.step("tool", "theirs", {}, lambda: 2)
            with pytest.raises(StorageError, match="run locks was lost"):
                session.step("tool", "mine", {}, lambda: 3)
            with pytest.raises(StorageError, match="run locks was lost"):
                session.step("tool", "mine again", {}, lambda: 3)
        with Journal.open_readonly(alone) as reader:
            steps = [s.name for s in reader.steps()]
        assert steps == ["before", "theirs"]
        assert verify(alone).ok
    finally:
        journal.close()
        pool.close()
    pool = Pool(url, 2, name=NAME)
    try:  # a fenced process opens the journal again, once the other let go
        with Journal.open(Location(where.state_dir, url=url, project="p", pool=pool)) as again:
            again.resume_run(run.id)
    finally:
        pool.close()


def test_idle_connections_left_from_before_a_restart_are_not_used(own_pg_server: Any) -> None:
    """Three connections idle in the pool; the server restarts (each is closed by it):
    each next statement gets a working connection, none fails for a stale one (before:
    the first statement after the restart failed, `unreachable`, on its stale connection,
    and the run waited as for an outage). A connection the server did not close is used
    again as it is (the same backend)."""
    url = own_pg_server.url()
    pool = Pool(url, 3, name=NAME)
    sql = pool.sql(url)
    try:
        with pool.borrowed(None, False), pool.borrowed(None, False), pool.borrowed(None, False):
            pass  # three connections made, idle after
        kept = sql.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert sql.execute("SELECT pg_backend_pid()").fetchone()[0] == kept
        own_pg_server.stop("fast")
        own_pg_server.start()
        backends = [sql.execute("SELECT pg_backend_pid()").fetchone()[0] for _ in range(3)]
        with pool.borrowed(None, False), pool.borrowed(None, False), pool.borrowed(None, False):
            pass  # three at once: none of them one of before
        assert kept not in backends
        assert pool.most <= 3
    finally:
        pool.close()


def _terminate_active(server: Any, statement: str) -> None:
    """Terminate the pool's backend that runs ``statement`` (as a failover or a restart of
    the server's process would): once it is seen running."""
    import psycopg

    deadline = time.monotonic() + 60  # liveness bound only
    with psycopg.connect(server.url(), autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND state = 'active' AND query = %s",
                (NAME, statement),
            ).fetchone()
            if row and row[0]:
                return
            assert time.monotonic() < deadline, f"never saw {statement!r} run"
            time.sleep(0.02)


def _lose_mid_statement(server: Any, sql: Any, statement: str) -> Any:
    """``statement`` through ``sql`` while another connection terminates its backend."""
    killer = threading.Thread(target=_terminate_active, args=(server, statement))
    killer.start()
    try:
        return sql.execute(statement)
    finally:
        killer.join()


def test_a_read_whose_connection_is_lost_mid_statement_is_read_again(pg_server: Any) -> None:
    """A read's backend terminated under it (a restart or a failover while it ran): read
    again on another connection, the caller sees rows, not `unreachable` (before: the
    StorageError, and the run waited as for an outage)."""
    url = pg_server.new_schema()
    pool = Pool(url, 2, name=NAME)
    sql = pool.sql(url)
    try:
        first = sql.execute("SELECT pg_backend_pid()").fetchone()[0]
        rows = _lose_mid_statement(pg_server, sql, "SELECT 7 AS n FROM pg_sleep(0.5)")
        assert rows.fetchall() == [(7,)]
        assert sql.execute("SELECT pg_backend_pid()").fetchone()[0] != first
        assert pool.most <= 2
    finally:
        pool.close()


def test_a_statement_that_writes_is_never_run_twice_after_a_lost_connection(
    pg_server: Any,
) -> None:
    """A write (and a SELECT with an effect: a sequence's nextval) whose backend is lost
    mid-statement is not run again, whatever its text says: its outcome may be unknown.
    It fails `unreachable` as before (the run waits and resumes); the effect is at most
    once."""
    url = pg_server.new_schema()
    pool = Pool(url, 2, name=NAME)
    sql = pool.sql(url)
    try:
        sql.execute("CREATE TABLE t (n int)")
        sql.execute("INSERT INTO t VALUES (0)")
        sql.execute("CREATE SEQUENCE s")
        for statement in (
            "UPDATE t SET n = n + 1 WHERE pg_sleep(0.5) IS NOT NULL",
            "SELECT nextval('s'), pg_sleep(0.5)",
            "WITH u AS (UPDATE t SET n = n + 10 RETURNING n) SELECT n, pg_sleep(0.5) FROM u",
        ):
            with pytest.raises(StorageError, match="unreachable"):
                _lose_mid_statement(pg_server, sql, statement)
        assert sql.execute("SELECT n FROM t").fetchall() == [(0,)]  # rolled back, once each
        assert sql.execute("SELECT last_value, is_called FROM s").fetchall() in (
            [(1, True)],
            [(1, False)],
        )
    finally:
        pool.close()


def test_connections_find_a_silent_server_in_seconds_unless_their_url_says_otherwise(
    pg_server: Any,
) -> None:
    """Every connection (a pool's, the lock connection, a store's own) gets libpq's TCP
    keepalives and user timeout (before: none, so a server gone silent hung a statement
    for the kernel's ~15 minutes); a setting the URL gives is kept. The silence itself:
    tests/harness/test_pg_silent.py."""

    def settings(conn: Any) -> dict[str, str]:
        return {
            option.keyword.decode(): (option.val or b"").decode()
            for option in conn.pgconn.info
            if option.keyword.decode() in LIVENESS
        }

    url = pg_server.new_schema()
    pool = Pool(url, 1, name=NAME)
    own = connect(url)
    mine = connect(url + "&keepalives_idle=99&tcp_user_timeout=0")
    try:
        with pool.borrowed(None, False) as held:
            assert settings(held.conn) == LIVENESS
        pool.try_lock(7)
        assert pool._locker is not None and settings(pool._locker) == LIVENESS
        assert settings(own.conn) == LIVENESS
        assert settings(mine.conn) == {**LIVENESS, "keepalives_idle": "99", "tcp_user_timeout": "0"}
    finally:
        own.close()
        mine.close()
        pool.close()
