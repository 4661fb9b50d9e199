"""One PostgreSQL connection of the journal (psycopg 3): statements, transactions, and errors
told apart: a server that cannot be reached is a wait (StorageError ``unreachable``, the run
parks and resumes once it is back), never damage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harness.errors import JournalError, StorageError

if TYPE_CHECKING:
    import psycopg

    from harness.journal.location import Location
    from harness.journal.postgres.pool import PooledSql

CONNECT_TIMEOUT_S = 10
LIVENESS = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}
"""libpq's TCP settings a connection gets unless its URL sets them: a server that went
silent without closing the socket (its host lost, a failover, a cut network) is found in
about 30 s (keepalive probes unanswered, or data unacknowledged), not after the kernel's
~15 minutes of retransmissions, during which a statement and its thread would hang.
Ignored on a unix socket."""
_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")


def safe_url(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    url = _PASSWORD.sub(r"\1:***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def connect(url: str, *, readonly: bool = False) -> PgSql:
    """A connection to the journal's database; StorageError when it cannot be reached."""
    import psycopg

    where = safe_url(url)
    try:
        conn = psycopg.connect(
            with_liveness(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
    except psycopg.OperationalError as error:
        raise StorageError(where, "unreachable", first_line(error)) from error
    except psycopg.Error as error:
        raise JournalError(f"journal {where}: {first_line(error)}") from error
    sql = PgSql(conn, where)
    if readonly:
        sql.execute("SET default_transaction_read_only = on")
    return sql


def open_sql(where: Location, *, readonly: bool = False) -> PgSql | PooledSql:
    """The journal's statements at ``where``: through its process's pool when it has one
    for that server (``Location.pool``), else a connection of its own."""
    url = where.url or ""
    if where.pool is not None and where.pool.accepts(url):
        return where.pool.sql(url, readonly=readonly)
    return connect(url, readonly=readonly)


def with_liveness(url: str) -> str:
    """``url`` as libpq's connection string, with the :data:`LIVENESS` settings it does
    not give itself (its own are kept)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(url)
    return make_conninfo(url, **{k: v for k, v in LIVENESS.items() if k not in given})


def url_with_liveness(url: str) -> str:
    """``url``, a ``postgresql://`` URL, with the :data:`LIVENESS` settings its query does
    not give (its own are kept): for the URLs handed to SQLAlchemy and DBOS, which pass a
    URL's query on to libpq as connection settings."""
    parts = urlsplit(url)
    given = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    missing = urlencode([(k, v) for k, v in LIVENESS.items() if k not in given])
    if not missing:
        return url
    return urlunsplit(parts._replace(query="&".join(q for q in (parts.query, missing) if q)))


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class PgSql:
    """Runs statements written with ``?`` placeholders (turned into ``%s`` once each)."""

    def __init__(self, conn: psycopg.Connection[Any], where: str) -> None:
        self.conn = conn
        self.where = where
        self.depth = 0  # open batches: only the outer one begins and commits
        self._texts: dict[str, str] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        import psycopg

        text = self._texts.get(sql)
        if text is None:
            text = self._texts[sql] = sql.replace("?", "%s")
        try:
            return self.conn.execute(text, params)
        except psycopg.OperationalError as error:
            raise StorageError(self.where, "unreachable", first_line(error)) from error
        except psycopg.Error as error:
            raise JournalError(f"journal {self.where}: {first_line(error)}") from error

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        row = self.execute(sql + " RETURNING id", params).fetchone()
        assert row is not None
        return int(row[0])

    def batch(self) -> _Batch:
        return _Batch(self)

    def close(self) -> None:
        with suppress(Exception):  # a server already gone: nothing left to release
            self.conn.close()


class _Batch:
    """``BEGIN`` ... ``COMMIT``, rolled back on an exception; nested: joins the outer one."""

    __slots__ = ("sql",)

    def __init__(self, sql: PgSql) -> None:
        self.sql = sql

    def __enter__(self) -> None:
        if self.sql.depth == 0:
            self.sql.execute("BEGIN")
        self.sql.depth += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.sql.depth -= 1
        if self.sql.depth:
            return
        if kind is not None:
            with suppress(Exception):
                self.sql.conn.execute("ROLLBACK")
            return
        try:
            self.sql.execute("COMMIT")
        except BaseException:
            with suppress(Exception):
                self.sql.conn.execute("ROLLBACK")
            raise
