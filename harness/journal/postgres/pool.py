"""A bounded set of PostgreSQL connections one process shares among the journals and
question queues it opens (a fleet worker's runs): N runs hold at most ``size`` connections
for their statements and one more for their run locks, where each run held two of its own.

- A statement borrows a connection for itself; a transaction (``batch``) keeps one until
  it commits or rolls back: each step's append stays one transaction, a run's writes stay
  in its order (the journal's lock serialises them), and a connection goes back idle only
  outside a transaction (else it is rolled back, or closed if that fails).
- Each journal has its schema (``search_path`` in its URL's ``options``): a borrowed
  connection is switched to it (one statement, only when it was on another).
- An idle connection is checked before it is lent (one ``select`` of its socket): one the
  server closed since (a restart) is dropped, not used, so no statement fails for it.
- The run locks (session advisory locks) are all held by the pool's one *lock connection*,
  so they die with the process as before. If that connection is lost while the process
  lives (the server restarted, the backend was terminated), every store that locked a run
  through it is fenced: its next statement raises StorageError (``unreachable``) and the
  run waits, reopens its journal and takes its lock again (or finds it taken by another).
"""

from __future__ import annotations

import re
import select
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harness.errors import JournalError, StorageError
from harness.journal.postgres.connect import CONNECT_TIMEOUT_S, first_line, safe_url, with_liveness

if TYPE_CHECKING:
    import psycopg

WAIT_S = 60.0
"""How long a statement waits for a busy pool's connection before it is a StorageError."""
_SEARCH_PATH = re.compile(r"-c\s*search_path=(\S+)")
_READ = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
"""A statement read again once on another connection when its own is lost under it."""


def split_url(url: str) -> tuple[str, str | None]:
    """The URL without a ``search_path`` in its ``options``, and that search path (None)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    path = None
    kept = []
    for key, value in query:
        if key == "options":
            found = _SEARCH_PATH.search(value)
            if found:
                path = found.group(1)
                value = _SEARCH_PATH.sub("", value).strip()
            if not value:
                continue
        kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), path


class _Conn:
    __slots__ = ("conn", "default", "path", "readonly")

    def __init__(self, conn: psycopg.Connection[Any], default: str) -> None:
        self.conn = conn
        self.default = default  # the server's search_path for this role
        self.path: str | None = None
        self.readonly = False


class Pool:
    """At most ``size`` connections to the server of ``url`` (plus the lock connection)."""

    def __init__(self, url: str, size: int, *, name: str = "harness", wait_s: float = WAIT_S):
        if size < 1:
            raise ValueError(f"a pool needs at least one connection, not {size}")
        self.base, _ = split_url(url)
        self.where = safe_url(self.base)
        self.conninfo = with_liveness(self.base)
        self.size = size
        self.name = name
        self.wait_s = wait_s
        self._idle: list[_Conn] = []
        self._made = 0
        self._cond = threading.Condition(threading.Lock())
        self._locker: psycopg.Connection[Any] | None = None
        self._lock_mutex = threading.Lock()
        self._keys: set[int] = set()  # the run locks the lock connection holds
        self.generation = 0
        """Counts lock connections made: a store's locks hold while it is unchanged."""
        self.most = 0
        """The most statement connections open at once (benches and tests read it)."""

    def accepts(self, url: str) -> bool:
        """Whether ``url`` names this pool's server and database (any search path)."""
        return split_url(url)[0] == self.base

    def sql(self, url: str, *, readonly: bool = False, dict_rows: bool = False) -> PooledSql:
        """A store's statements on ``url``'s search path, through this pool."""
        return PooledSql(self, split_url(url)[1], safe_url(url), readonly, dict_rows)

    # -- statement connections ---------------------------------------------------------------
    def _connect(self) -> _Conn:
        import psycopg

        try:
            conn = psycopg.connect(
                self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                application_name=self.name,
            )  # fmt: skip
            row = conn.execute("SHOW search_path").fetchone()
        except psycopg.OperationalError as error:
            raise StorageError(self.where, "unreachable", first_line(error)) from error
        except psycopg.Error as error:
            raise JournalError(f"journal {self.where}: {first_line(error)}") from error
        return _Conn(conn, str(row[0]) if row else "public")

    def _take(self, path: str | None) -> _Conn:
        deadline = time.monotonic() + self.wait_s
        while True:
            held = self._idle_or_slot(path, deadline)
            if held is None:
                break  # a slot: a new connection
            if usable(held.conn):
                return held
            self._forget()  # left from before the server restarted: another, or a new one
            with suppress(Exception):
                held.conn.close()
        try:
            return self._connect()
        except BaseException:
            self._forget()
            raise

    def _idle_or_slot(self, path: str | None, deadline: float) -> _Conn | None:
        """An idle connection (one on ``path`` first), else None with a slot taken for a
        new one; StorageError once ``deadline`` passed with every connection busy."""
        with self._cond:
            while True:
                if self._idle:
                    for k in range(len(self._idle) - 1, -1, -1):  # one already on the path
                        if self._idle[k].path == path:
                            return self._idle.pop(k)
                    return self._idle.pop()
                if self._made < self.size:
                    self._made += 1
                    self.most = max(self.most, self._made)
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StorageError(
                        self.where, "unreachable",
                        f"all {self.size} connections of this process stayed busy for "
                        f"{self.wait_s:.0f} s",
                    )  # fmt: skip
                self._cond.wait(left)

    def _forget(self) -> None:
        with self._cond:
            self._made -= 1
            self._cond.notify()

    def _give(self, held: _Conn) -> None:
        """Back idle if it is outside a transaction (rolled back if not), else closed."""
        from psycopg.pq import TransactionStatus

        conn = held.conn
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            with suppress(Exception):
                conn.execute("ROLLBACK")
        if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            with self._cond:  # the server went away, most likely: the idle ones with it
                dropped = [held, *self._idle]
                self._idle = []
                self._made -= len(dropped)
                self._cond.notify_all()
            for each in dropped:
                with suppress(Exception):
                    each.conn.close()
            return
        with self._cond:
            self._idle.append(held)
            self._cond.notify()

    @contextmanager
    def borrowed(self, path: str | None, readonly: bool) -> Iterator[_Conn]:
        """A connection on ``path`` (read-only or not) until the block ends."""
        held = self._take(path)
        try:
            if held.path != path or held.readonly != readonly:
                _run(held.conn, self.where,
                     "SELECT set_config('search_path', %s, false), "
                     "set_config('default_transaction_read_only', %s, false)",
                     (path or held.default, "on" if readonly else "off"))  # fmt: skip
                held.path, held.readonly = path, readonly
            yield held
        finally:
            self._give(held)

    # -- the lock connection -----------------------------------------------------------------
    def try_lock(self, key: int) -> tuple[int, bool]:
        """Take run lock ``key`` on the lock connection (made if there is none): its
        generation, and whether the lock was free. A lock another store of this process
        holds is not free (the server's locks are per connection, so it would say yes)."""
        with self._lock_mutex:
            locker = self._locker
            if locker is None or locker.closed or locker.broken:
                self._drop_locker()
                locker = self._locker = self._connect().conn
                self.generation += 1
            if key in self._keys:
                return self.generation, False
            row = _run(locker, self.where, "SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row and row[0]:
                self._keys.add(key)
                return self.generation, True
            return self.generation, False

    def unlock(self, key: int, generation: int) -> None:
        """Release run lock ``key`` if lock connection ``generation`` still holds it."""
        with self._lock_mutex:
            if generation != self.generation or key not in self._keys:
                return
            self._keys.discard(key)
            if self._locker is not None:
                _run(self._locker, self.where, "SELECT pg_advisory_unlock(%s)", (key,))

    def locks_lost(self, generation: int) -> bool:
        """Whether the run locks taken on lock connection ``generation`` are gone: it was
        replaced, or the server spoke to it while idle (its closing) and it no longer
        answers."""
        with self._lock_mutex:
            locker = self._locker
            if generation != self.generation or locker is None or locker.closed:
                return True
            if locker.broken:
                return self._drop_locker()
            try:
                ready, _, _ = select.select([locker.fileno()], [], [], 0)
            except (OSError, ValueError):
                return self._drop_locker()
            if not ready:
                return False
            try:  # a notice, or the server's goodbye: ask
                locker.execute("SELECT 1")
            except Exception:
                return self._drop_locker()
            return False

    def _drop_locker(self) -> bool:
        if self._locker is not None:
            with suppress(Exception):
                self._locker.close()
        self._locker = None
        self._keys.clear()  # released by the server with their connection
        return True

    def close(self) -> None:
        """Close every idle connection and the lock connection (releasing its locks)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._made -= len(idle)
        for held in idle:
            with suppress(Exception):
                held.conn.close()
        with self._lock_mutex:
            self._drop_locker()


def usable(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle connection may be used: a server restarted since it went idle has
    closed it (its goodbye is waiting on the socket), so it is not. Cheap: one ``select``
    of the socket, no round trip; the server is asked only when it spoke (a notice)."""
    if conn.closed or conn.broken:
        return False
    try:
        ready, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    if not ready:
        return True  # silent since it went idle: as it was
    try:
        conn.execute("SELECT 1")
    except Exception:
        return False
    return True


class Rows:
    """A statement's rows, read before its connection went back to the pool."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


def _run(conn: psycopg.Connection[Any], where: str, sql: str, params: Sequence[Any]) -> Any:
    import psycopg

    try:
        return conn.execute(sql, params)
    except psycopg.OperationalError as error:
        raise StorageError(where, "unreachable", first_line(error)) from error
    except psycopg.Error as error:
        raise JournalError(f"journal {where}: {first_line(error)}") from error


class PooledSql:
    """One store's connection (``harness.journal.sql.reader.Sql``), borrowed from the pool
    for each statement, or for a whole ``batch``."""

    def __init__(
        self, pool: Pool, path: str | None, where: str, readonly: bool, dict_rows: bool
    ) -> None:
        self.pool = pool
        self.path = path
        self.where = where
        self.readonly = readonly
        self.dict_rows = dict_rows
        self.depth = 0
        self.fence: Any = None
        """Called before each statement outside a batch and at each batch's start: raises
        when the locks this store holds were lost (``AdvisoryLocks.check``)."""
        self._held: tuple[Any, _Conn, int] | None = None  # (its context, conn, thread)
        self._texts: dict[str, str] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        text = self._texts.get(sql)
        if text is None:
            text = self._texts[sql] = sql.replace("?", "%s")
        held = self._held
        if held is not None and held[2] == threading.get_ident():
            return self._read(held[1].conn, text, params)
        if self.fence is not None:
            self.fence()
        with self.pool.borrowed(self.path, self.readonly) as conn:
            try:
                return self._read(conn.conn, text, params)
            except StorageError as error:
                if not (conn.conn.broken and _READ.match(text)):
                    raise
                lost = error
        return self._read_again(text, params, lost)

    def _read_again(self, text: str, params: Sequence[Any], lost: StorageError) -> Rows:
        """A read whose connection was lost under it (its backend terminated, the server
        restarted or failed over), once more on another connection, in a read-only
        transaction: a statement with an effect (``nextval``, a writing ``WITH``) is
        refused there, so nothing is ever run twice. If that fails too: ``lost``."""
        if self.fence is not None:
            self.fence()
        try:
            with self.pool.borrowed(self.path, self.readonly) as conn:
                _run(conn.conn, self.where, "BEGIN READ ONLY", ())
                rows = self._read(conn.conn, text, params)
                _run(conn.conn, self.where, "COMMIT", ())
                return rows
        except (StorageError, JournalError):
            raise lost from None

    def _read(self, conn: psycopg.Connection[Any], text: str, params: Sequence[Any]) -> Rows:
        if self.dict_rows:
            import psycopg
            from psycopg.rows import dict_row

            cursor = conn.cursor(row_factory=dict_row)
            try:
                cursor.execute(text, params)
            except psycopg.OperationalError as error:
                raise StorageError(self.where, "unreachable", first_line(error)) from error
        else:
            cursor = _run(conn, self.where, text, params)
        rows = cursor.fetchall() if cursor.description is not None else []
        return Rows(rows, cursor.rowcount)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        row = self.execute(sql + " RETURNING id", params).fetchone()
        assert row is not None
        return int(row["id"] if self.dict_rows else row[0])

    def batch(self) -> _PooledBatch:
        return _PooledBatch(self)

    def close(self) -> None:
        """Nothing is held between statements (an open batch gives its connection back)."""


class _PooledBatch:
    """``BEGIN`` ... ``COMMIT`` on one borrowed connection; nested: joins the outer one."""

    __slots__ = ("sql",)

    def __init__(self, sql: PooledSql) -> None:
        self.sql = sql

    def __enter__(self) -> None:
        sql = self.sql
        if sql.depth == 0:
            if sql.fence is not None:
                sql.fence()
            borrowing = sql.pool.borrowed(sql.path, sql.readonly)
            conn = borrowing.__enter__()
            try:
                _run(conn.conn, sql.where, "BEGIN", ())
            except BaseException as error:
                borrowing.__exit__(type(error), error, None)
                raise
            sql._held = (borrowing, conn, threading.get_ident())
        sql.depth += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        sql = self.sql
        sql.depth -= 1
        if sql.depth or sql._held is None:
            return
        borrowing, conn, _ = sql._held
        sql._held = None
        try:
            if kind is not None:
                with suppress(Exception):
                    conn.conn.execute("ROLLBACK")
                return
            _run(conn.conn, sql.where, "COMMIT", ())
        finally:
            borrowing.__exit__(None, None, None)  # rolled back there if still open
