"""The read API over SQL, shared by the SQLite and PostgreSQL backends.

Statements are written once with ``?`` placeholders; a dialect's connection (``Sql``)
runs them (PostgreSQL's turns them into ``%s``) and turns its driver's errors into ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from harness.journal.reading import ReaderBase
from harness.journal.records import Recorded, Result, SignedRow
from harness.journal.records import row as new
from harness.journal.rows import CacheStat, RunRow, SessionRow, StepDetail, StepRow

if TYPE_CHECKING:
    from harness.journal import rows


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Sql(Protocol):
    """One connection of a dialect: statements with ``?`` placeholders, one transaction."""

    where: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT into a table with an ``id`` column; the new row's id."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """A transaction (nested: joins the outer one)."""
        ...

    def close(self) -> None: ...


class Blobs(Protocol):
    """Large payloads by content (files beside SQLite, a table in PostgreSQL)."""

    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...

    def check(self, digest: str) -> str | None:
        """None if the blob is present and intact, else what is wrong."""
        ...


class Locks(Protocol):
    """Who drives a run: one live process holds its lock."""

    def lock(self, run_id: str) -> None: ...

    def unlock(self, run_id: str) -> None: ...

    def holder(self, run_id: str) -> int | None:
        """The pid of the live process driving the run (-1 if unknown), else None."""
        ...

    def close(self) -> None: ...


RECORDED = (
    "id, attempts, seq, kind, name, input_digest, idempotent, status, output, output_blob, "
    "error, tokens, cost_usd, cached, mac_start, mac"
)
STEP_COLUMNS = (
    "id, run_id, session, seq, kind, name, status, attempts, input_digest, started_at, "
    "ended_at, duration, tokens, cost_usd, cached, idempotent, error"
)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def recorded(row: Sequence[Any]) -> Recorded:
    """A ``Recorded`` of a row of ``RECORDED`` columns (MACs come as bytes from both
    drivers: SQLite's BLOB, psycopg's bytea)."""
    result = new(Result, (*row[7:13], bool(row[13])))
    return new(Recorded, (row[0], row[2], row[3], row[4], row[5], bool(row[6]), result, row[1],
                          row[14], row[15]))  # fmt: skip


def _step(row: Sequence[Any]) -> dict[str, Any]:
    error = row[16]
    error_class = json.loads(error).get("class") if error else None
    return {
        "rowid": row[0], "run_id": row[1], "session": row[2], "seq": row[3], "kind": row[4],
        "name": row[5], "status": row[6], "attempts": row[7], "input_digest": row[8],
        "started_at": row[9], "ended_at": row[10], "duration": row[11], "tokens": row[12],
        "cost_usd": row[13], "cached": bool(row[14]), "idempotent": bool(row[15]),
        "error_class": error_class,
    }  # fmt: skip


# the order the journal recorded them in (run by run, then by number), never the clock's
_SESSION_ORDER = " ORDER BY r.rowid, s.number"


class SqlReader(ReaderBase):
    """The read API of a journal kept in SQL tables."""

    def __init__(self, sql: Sql, blobs: Blobs, locks: Locks, journal_id: str | None) -> None:
        self.sql = sql
        self.blobs = blobs
        self.locks = locks
        self.journal_id = journal_id
        self.where = sql.where

    def close(self) -> None:
        self.locks.close()
        self.sql.close()

    def check_present(self) -> None:
        """Nothing to check for a database reached by URL (a file backend checks its file)."""

    def get_blob(self, digest: str) -> bytes:
        return self.blobs.get(digest)

    def holder(self, run_id: str) -> int | None:
        return self.locks.holder(run_id)

    def load_session(self, run_id: str, session: int) -> list[Recorded]:
        cursor = self.sql.execute(
            f"SELECT {RECORDED} FROM steps WHERE run_id = ? AND session = ? AND gen = 0 "
            "ORDER BY seq",
            (run_id, session),
        )
        return [recorded(row) for row in cursor.fetchall()]

    def runs(self) -> list[rows.RunRow]:

        cursor = self.sql.execute(
            "SELECT id, kind, status, outcome, created_at, finished_at, holder_pid, meta, report "
            "FROM runs ORDER BY rowid"  # the order they began in, whatever the clock says
        )
        keys = ("id", "kind", "status", "outcome", "created_at", "finished_at", "holder_pid")
        return [
            RunRow(
                **dict(zip(keys, row[:7], strict=True)),
                meta=json.loads(row[7]) if row[7] else {},
                report=json.loads(row[8]) if row[8] else None,
            )
            for row in cursor.fetchall()
        ]

    def unfinished_run(self, kind: str = "run") -> str | None:
        row = self.sql.execute(
            "SELECT id FROM runs WHERE kind = ? AND status = 'running' ORDER BY rowid DESC LIMIT 1",
            (kind,),
        ).fetchone()
        return None if row is None else str(row[0])

    def latest_busy_run(self) -> str | None:
        row = self.sql.execute(
            "SELECT r.id FROM runs r WHERE EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id) "
            "ORDER BY r.rowid DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def usage(self, run_id: str | None = None) -> tuple[int, float]:
        sql = "SELECT coalesce(sum(tokens), 0), coalesce(sum(cost_usd), 0.0) FROM steps"
        params: tuple[Any, ...] = () if run_id is None else (run_id,)
        row = self.sql.execute(sql + (" WHERE run_id = ?" if run_id else ""), params).fetchone()
        return int(row[0]), float(row[1])

    def sessions(self, run_id: str | None = None) -> list[rows.SessionRow]:
        sql = "SELECT s.run_id, s.number, s.status, s.outcome, s.started_at, s.ended_at, " \
              "s.meta, s.summary FROM sessions s LEFT JOIN runs r ON r.id = s.run_id"  # fmt: skip
        params: tuple[Any, ...] = ()
        if run_id is not None:
            sql, params = sql + " WHERE s.run_id = ?", (run_id,)
        return [
            SessionRow(
                run_id=row[0],
                number=row[1],
                status=row[2],
                outcome=row[3],
                started_at=row[4],
                ended_at=row[5],
                meta=json.loads(row[6]) if row[6] else {},
                summary=json.loads(row[7]) if row[7] else None,
            )
            for row in self.sql.execute(sql + _SESSION_ORDER, params).fetchall()
        ]

    def steps(
        self,
        run_id: str | None = None,
        session: int | None = None,
        since_rowid: int | None = None,
        *,
        include_superseded: bool = False,
    ) -> list[rows.StepRow]:

        where: list[str] = []
        params: list[Any] = []
        for column, value in (("run_id = ?", run_id), ("session = ?", session),
                              ("id > ?", since_rowid)):  # fmt: skip
            if value is not None:
                where.append(column)
                params.append(value)
        if not include_superseded:
            where.append("gen = 0")
        sql = f"SELECT {STEP_COLUMNS} FROM steps"
        if where:
            sql += " WHERE " + " AND ".join(where)
        cursor = self.sql.execute(sql + " ORDER BY id", tuple(params))
        return [StepRow(**_step(row)) for row in cursor.fetchall()]

    def step_detail(self, run_id: str, session: int, seq: int) -> rows.StepDetail | None:

        row = self.sql.execute(
            f"SELECT {STEP_COLUMNS}, inputs, inputs_blob, output, output_blob FROM steps "
            "WHERE run_id = ? AND session = ? AND seq = ? ORDER BY gen != 0, id DESC LIMIT 1",
            (run_id, session, seq),
        ).fetchone()
        if row is None:
            return None
        fields = _step(row)
        fields["inputs"] = self.load(row[17], row[18])
        fields["output"] = self.load(row[19], row[20])
        fields["error"] = json.loads(row[16]) if row[16] else None
        return StepDetail(**fields)

    def last_rowid(self) -> int:
        return int(self.sql.execute("SELECT coalesce(max(id), 0) FROM steps").fetchone()[0])

    def session_totals(
        self, run_id: str | None = None, session: int | None = None
    ) -> dict[tuple[str, int], tuple[int, int, float]]:
        where = ""
        params: list[Any] = []
        if run_id is not None:
            where, params = "AND run_id = ?", [run_id]
            if session is not None:
                where, params = where + " AND session = ?", [run_id, session]
        cursor = self.sql.execute(
            # steps counted exclude superseded ones; tokens and cost include them (they were
            # paid), as the figures of `harness run`'s report and progress lines do
            "SELECT run_id, session, sum(CASE WHEN status != 'superseded' THEN 1 ELSE 0 END), "
            "coalesce(sum(tokens), 0), coalesce(sum(cost_usd), 0) FROM steps WHERE 1 = 1 "
            f"{where} GROUP BY run_id, session",
            tuple(params),
        )
        return {(r[0], int(r[1])): (int(r[2]), int(r[3]), float(r[4])) for r in cursor.fetchall()}

    def cache_stats(self) -> list[rows.CacheStat]:

        cursor = self.sql.execute(
            "SELECT kind, name, hits, misses FROM cache_stats ORDER BY kind, name"
        )
        return [CacheStat(kind=r[0], name=r[1], hits=r[2], misses=r[3]) for r in cursor.fetchall()]

    # -- what `harness journal verify` reads ------------------------------------------------
    def signed_rows(self) -> Iterator[SignedRow]:
        """Every step row, live ones by (run, session, seq) first, then superseded ones."""
        cursor = self.sql.execute(
            f"SELECT run_id, session, gen, {RECORDED} FROM steps "
            "ORDER BY gen != 0, run_id, session, seq, id"
        )
        for row in cursor:
            yield SignedRow(row[0], int(row[1]), row[2] != 0, recorded(row[3:]))

    def cache_entries(self) -> Iterator[tuple[Any, ...]]:
        """(kind, name, input_digest, version, output, output_blob, mac) of the cache."""
        for row in self.sql.execute(
            "SELECT kind, name, input_digest, version, output, output_blob, mac FROM cache"
        ):
            yield (*row[:6], _bytes(row[6]))

    def blob_refs(self) -> tuple[list[str], list[str]]:
        """(digests the blob table records, digests steps refer to but it does not)."""
        recorded_digests = [r[0] for r in self.sql.execute("SELECT digest FROM blobs")]
        missing: list[str] = []
        for column in ("inputs_blob", "output_blob"):
            missing += [
                r[0]
                for r in self.sql.execute(
                    f"SELECT DISTINCT {column} FROM steps WHERE {column} IS NOT NULL "
                    f"AND {column} NOT IN (SELECT digest FROM blobs)"
                )
            ]
        return recorded_digests, missing
