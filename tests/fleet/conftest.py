"""The fleet's tests: a real PostgreSQL server (tests/pg.py) shared by the session."""

from tests.pg import own_pg_server, pg_server  # noqa: F401 (fixtures)
