"""The journal's three stores as one fixture: a test that takes ``where`` runs on SQLite,
in memory and on PostgreSQL (a real server, tests/pg.py), there once with a connection of
its own and once through a pool of two connections (``Location.pool``: a fleet worker's),
through the same ``Location`` (the journal's conformance suite, tests/harness/journal/,
and the question queue's)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from harness.journal import Location
from harness.journal.memory import MemoryDatabase
from harness.journal.postgres.pool import Pool
from harness.journal.sqlite.store import db_path

BACKENDS = ("sqlite", "memory", "postgres", "pooled")


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """Where this test's journal lives, on each backend in turn."""
    state = tmp_path / ".harness"
    if request.param == "memory":
        return Location(state, memory=MemoryDatabase())
    if request.param in ("postgres", "pooled"):
        url = request.getfixturevalue("pg_url")
        pool = None
        if request.param == "pooled":
            pool = Pool(url, 2)
            request.addfinalizer(pool.close)
        return Location(state, url=url, project=str(tmp_path), pool=pool)
    return Location(state)


def raw(where: Location, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run a statement on the store behind the journal's back (``?`` placeholders): what
    a person with the database's password could do. Not for the in-memory store."""
    if where.backend == "sqlite":
        conn = sqlite3.connect(db_path(where.state_dir))
        try:
            rows = conn.execute(sql, params).fetchall()
            conn.commit()
        finally:
            conn.close()
        return rows
    assert where.backend == "postgres" and where.url
    import psycopg

    with psycopg.connect(where.url, autocommit=True) as conn:
        cursor = conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        return list(cursor.fetchall()) if cursor.description else []
