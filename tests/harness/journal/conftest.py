"""The conformance suite: every test here takes ``where`` (tests/stores.py) and so runs on
SQLite, in memory and on PostgreSQL."""

from tests.stores import raw

__all__ = ["raw"]
