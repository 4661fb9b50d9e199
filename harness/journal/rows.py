"""Small pydantic rows for the read API (CLI, TUI) and the queries behind them."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from harness.journal.journal import Journal


class RunRow(BaseModel):
    id: str
    kind: str
    status: str
    outcome: str | None = None
    created_at: float
    finished_at: float | None = None
    holder_pid: int | None = None
    meta: dict[str, Any] = {}
    """What the run recorded about itself, e.g. ``runner``: {name, sandboxed, description}."""
    report: dict[str, Any] | None = None


class SessionRow(BaseModel):
    run_id: str
    number: int
    status: str
    outcome: str | None = None
    started_at: float
    ended_at: float | None = None
    meta: dict[str, Any] = {}
    summary: dict[str, Any] | None = None


class StepRow(BaseModel):
    rowid: int
    run_id: str
    session: int
    seq: int
    kind: str
    name: str
    status: str
    attempts: int
    input_digest: str
    started_at: float
    ended_at: float | None = None
    duration: float | None = None
    tokens: int | None = None
    cost_usd: float | None = None
    cached: bool = False
    idempotent: bool = True
    error_class: str | None = None


class StepDetail(StepRow):
    inputs: Any = None
    output: Any = None
    error: dict[str, Any] | None = None


class CacheStat(BaseModel):
    kind: str
    name: str
    hits: int
    misses: int


_STEP_COLUMNS = (
    "id, run_id, session, seq, kind, name, status, attempts, input_digest, started_at, "
    "ended_at, duration, tokens, cost_usd, cached, idempotent, error"
)


def _step(row: tuple[Any, ...]) -> dict[str, Any]:
    error = row[16]
    error_class = json.loads(error).get("class") if error else None
    return {
        "rowid": row[0], "run_id": row[1], "session": row[2], "seq": row[3], "kind": row[4],
        "name": row[5], "status": row[6], "attempts": row[7], "input_digest": row[8],
        "started_at": row[9], "ended_at": row[10], "duration": row[11], "tokens": row[12],
        "cost_usd": row[13], "cached": bool(row[14]), "idempotent": bool(row[15]),
        "error_class": error_class,
    }  # fmt: skip


def runs(conn: sqlite3.Connection) -> list[RunRow]:
    cursor = conn.execute(
        "SELECT id, kind, status, outcome, created_at, finished_at, holder_pid, meta, report "
        "FROM runs ORDER BY created_at, rowid"
    )
    keys = ("id", "kind", "status", "outcome", "created_at", "finished_at", "holder_pid")
    return [
        RunRow.model_construct(
            **dict(zip(keys, row[:7], strict=True)),
            meta=json.loads(row[7]) if row[7] else {},
            report=json.loads(row[8]) if row[8] else None,
        )
        for row in cursor
    ]


def sessions(conn: sqlite3.Connection, run_id: str | None) -> list[SessionRow]:
    sql = (
        "SELECT run_id, number, status, outcome, started_at, ended_at, meta, summary FROM sessions"
    )
    params: tuple[Any, ...] = ()
    if run_id is not None:
        sql, params = sql + " WHERE run_id = ?", (run_id,)
    result = []
    for row in conn.execute(sql + " ORDER BY started_at, number", params):
        result.append(
            SessionRow.model_construct(
                run_id=row[0],
                number=row[1],
                status=row[2],
                outcome=row[3],
                started_at=row[4],
                ended_at=row[5],
                meta=json.loads(row[6]) if row[6] else {},
                summary=json.loads(row[7]) if row[7] else None,
            )
        )
    return result


def steps(
    conn: sqlite3.Connection,
    run_id: str | None,
    session: int | None,
    since_rowid: int | None,
    include_superseded: bool,
) -> list[StepRow]:
    where: list[str] = []
    params: list[Any] = []
    if run_id is not None:
        where.append("run_id = ?")
        params.append(run_id)
    if session is not None:
        where.append("session = ?")
        params.append(session)
    if since_rowid is not None:
        where.append("id > ?")
        params.append(since_rowid)
    if not include_superseded:
        where.append("gen = 0")
    sql = f"SELECT {_STEP_COLUMNS} FROM steps"
    if where:
        sql += " WHERE " + " AND ".join(where)
    cursor = conn.execute(sql + " ORDER BY id", tuple(params))
    return [StepRow.model_construct(**_step(row)) for row in cursor]


def step_detail(journal: Journal, run_id: str, session: int, seq: int) -> StepDetail | None:
    row = journal.conn.execute(
        f"SELECT {_STEP_COLUMNS}, inputs, inputs_blob, output, output_blob FROM steps "
        "WHERE run_id = ? AND session = ? AND seq = ? ORDER BY gen != 0, id DESC "
        "LIMIT 1",
        (run_id, session, seq),
    ).fetchone()
    if row is None:
        return None
    fields = _step(row)
    fields["inputs"] = journal.load(row[17], row[18])
    fields["output"] = journal.load(row[19], row[20])
    fields["error"] = json.loads(row[16]) if row[16] else None
    return StepDetail.model_construct(**fields)


def last_rowid(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT coalesce(max(id), 0) FROM steps").fetchone()
    return int(row[0])


def session_totals(
    conn: sqlite3.Connection, run_id: str | None, session: int | None
) -> dict[tuple[str, int], tuple[int, int, float]]:
    where = ""
    params: list[Any] = []
    if run_id is not None:
        where, params = "AND run_id = ?", [run_id]
        if session is not None:
            where, params = where + " AND session = ?", [run_id, session]
    cursor = conn.execute(
        # steps counted exclude superseded ones; tokens and cost include them (they were
        # paid), as the figures of `harness run`'s report and progress lines do
        "SELECT run_id, session, sum(CASE WHEN status != 'superseded' THEN 1 ELSE 0 END), "
        "coalesce(sum(tokens), 0), coalesce(sum(cost_usd), 0) FROM steps WHERE 1 = 1 "
        f"{where} GROUP BY run_id, session",
        tuple(params),
    )
    return {(r[0], int(r[1])): (int(r[2]), int(r[3]), float(r[4])) for r in cursor}


def cache_stats(conn: sqlite3.Connection) -> list[CacheStat]:
    cursor = conn.execute("SELECT kind, name, hits, misses FROM cache_stats ORDER BY kind, name")
    return [CacheStat(kind=r[0], name=r[1], hits=r[2], misses=r[3]) for r in cursor]
