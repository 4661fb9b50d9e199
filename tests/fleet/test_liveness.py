"""The fleet's own database connections (its tables' SQLAlchemy engine, DBOS's system
database engine) get libpq's TCP keepalives and user timeout, as every journal connection
does (``harness.journal.postgres.connect.LIVENESS``): a server gone silent under them (its
host lost, a failover) is found in about 30 s instead of the kernel's ~15 minutes of
retransmissions, during which a worker's queue poll, beat or status read would hang.
The silence itself is shown on the journal's pool: tests/harness/test_pg_silent.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.app import Client
from fleet.db import FleetDb
from fleet.place import Place
from harness.journal.postgres.connect import LIVENESS
from tests.fleet.support import new_database


def _settings(engine: Any) -> dict[str, str]:
    """libpq's liveness settings of a new connection of ``engine``."""
    raw = engine.raw_connection()
    try:
        return {
            option.keyword.decode(): (option.val or b"").decode()
            for option in raw.driver_connection.pgconn.info
            if option.keyword.decode() in LIVENESS
        }
    finally:
        raw.close()


def test_the_fleet_s_engines_find_a_silent_server_in_seconds(
    pg_server: Any, tmp_path: Path
) -> None:
    place = Place(new_database(pg_server), tmp_path / "fleet")
    tables = FleetDb(place)
    dbos = Client(place)  # DBOS's system database engine, as a worker makes it
    try:
        assert _settings(tables.engine) == LIVENESS
        assert _settings(dbos.client._sys_db.engine) == LIVENESS
    finally:
        dbos.close()
        tables.close()


def test_settings_the_fleet_s_url_gives_are_kept(pg_server: Any, tmp_path: Path) -> None:
    url = new_database(pg_server) + "&keepalives_idle=99&tcp_user_timeout=0"
    tables = FleetDb(Place(url, tmp_path / "fleet"))
    try:
        assert _settings(tables.engine) == {
            **LIVENESS,
            "keepalives_idle": "99",
            "tcp_user_timeout": "0",
        }
    finally:
        tables.close()
