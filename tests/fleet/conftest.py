"""The fleet's tests: a real PostgreSQL server (tests/pg.py) shared by the session, and the
embedded fleet (SQLite for the fleet and DBOS, no server) as the fixture ``fleet``, and a
fleet on PostgreSQL as ``pg_fleet`` (takeover, parking and publish use it; outage and the
inbox's define their own)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.support import Fleet, new_database
from tests.pg import own_pg_server, pg_server  # noqa: F401 (fixtures)


@pytest.fixture
def fleet(tmp_path: Path, state_home: Path) -> Iterator[Fleet]:
    """An embedded fleet in ``tmp_path/fleet``; its workers are stopped after the test."""
    made = Fleet(None, tmp_path / "fleet", {"HARNESS_STATE_HOME": str(state_home)})
    made.home.mkdir()
    yield made
    made.stop_all()


@pytest.fixture
def pg_fleet(pg_server: Any, tmp_path: Path, state_home: Path) -> Iterator[Fleet]:  # noqa: F811
    """A fleet on a fresh database of the session's PostgreSQL server; its workers are
    stopped after the test."""
    made = Fleet(
        new_database(pg_server), tmp_path / "fleet", {"HARNESS_STATE_HOME": str(state_home)}
    )
    made.home.mkdir()
    yield made
    made.stop_all()
