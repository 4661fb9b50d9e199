"""The store side of a journal kept in SQL tables (``backend.StepStore`` and ``RunStore``),
shared by SQLite and PostgreSQL: plain statements, no decisions."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from harness.journal.records import CacheEntry
from harness.journal.sql.reader import SqlReader

if TYPE_CHECKING:
    from harness.journal.records import Begin, CacheKey, End

INSERT_STARTED = (
    "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, inputs, inputs_blob, "
    "status, attempts, idempotent, started_at, mac_start) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'started', 1, ?, ?, ?)"
)
_BEGIN_ENDED = (
    "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, inputs, inputs_blob, "
    "status, output, output_blob, error, tokens, cost_usd, cached, attempts, idempotent, "
    "started_at, ended_at, duration, mac_start, mac) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
)
_END = (
    "UPDATE steps SET status = 'ended', output = ?, output_blob = ?, tokens = ?, cost_usd = ?, "
    "ended_at = ?, duration = ?, mac = ? WHERE id = ?"
)
_FAIL = (
    "UPDATE steps SET status = 'failed', error = ?, ended_at = ?, duration = ?, mac = ? "
    "WHERE id = ?"
)


def ending(row_id: int, end: End) -> tuple[str, tuple[Any, ...]]:
    """The statement (and its parameters) that records how step ``row_id`` finished."""
    _, output, blob, error, tokens, cost, _ = end.result
    if end.result.status == "ended":  # an ended row has no error: a started one none yet
        return _END, (output, blob, tokens, cost, end.ended_at, end.duration, end.mac, row_id)
    return _FAIL, (error, end.ended_at, end.duration, end.mac, row_id)


class SqlStore(SqlReader):
    """Runs, sessions and steps as rows of SQL tables."""

    lazy_ends = True

    def batch(self) -> AbstractContextManager[None]:
        return self.sql.batch()

    # -- steps ---------------------------------------------------------------------------
    def begin(self, row: Begin, end: End | None = None) -> int:
        if end is None:
            return self.sql.insert(INSERT_STARTED, row)  # a Begin's fields, in order
        ended = (*row[:8], *end.result[:6], int(end.result.cached), row.idempotent,
                 row.started_at, end.ended_at, end.duration, row.mac_start, end.mac)  # fmt: skip
        return self.sql.insert(_BEGIN_ENDED, ended)

    def end_and_begin(self, row_id: int, end: End, row: Begin) -> int:
        with self.sql.batch():
            self.end(row_id, end)
            return self.begin(row)

    def restart(self, row_id: int, started_at: float) -> None:
        self.sql.execute(
            # In flight again (a failed step re-run too): no result yet, so no stale error
            # (its MAC would not match the new result).
            "UPDATE steps SET attempts = attempts + 1, started_at = ?, status = 'started', "
            "error = NULL WHERE id = ?",
            (started_at, row_id),
        )

    def note(self, row_id: int, error: str) -> None:
        self.sql.execute("UPDATE steps SET error = ? WHERE id = ?", (error, row_id))

    def end(self, row_id: int, end: End) -> None:
        self.sql.execute(*ending(row_id, end))

    def supersede(self, marks: Sequence[tuple[int, bytes]]) -> None:
        with self.sql.batch():
            for row_id, mac in marks:
                self.sql.execute(
                    "UPDATE steps SET status = 'superseded', gen = id, mac = ? WHERE id = ?",
                    (mac, row_id),
                )

    def cache_get(self, key: CacheKey) -> CacheEntry | None:

        row = self.sql.execute(
            "SELECT output, output_blob, mac FROM cache "
            "WHERE kind = ? AND name = ? AND input_digest = ? AND version = ?",
            (key.kind, key.name, key.input_digest, key.version),
        ).fetchone()
        if row is None:
            return None
        return CacheEntry(row[0], row[1], None if row[2] is None else bytes(row[2]))

    def cache_put(self, key: CacheKey, entry: CacheEntry, at: float) -> None:
        self.sql.execute(
            "INSERT INTO cache (kind, name, input_digest, version, output, output_blob, "
            "created_at, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, name, input_digest, version) DO UPDATE SET "
            "output = excluded.output, output_blob = excluded.output_blob, "
            "created_at = excluded.created_at, mac = excluded.mac, hits = 0",
            (key.kind, key.name, key.input_digest, key.version, entry.output, entry.output_blob,
             at, entry.mac),
        )  # fmt: skip

    def cache_count(self, key: CacheKey, hit: bool) -> None:
        counter = "hits" if hit else "misses"
        with self.sql.batch():
            self.sql.execute(
                f"INSERT INTO cache_stats (kind, name, {counter}) VALUES (?, ?, 1) "
                f"ON CONFLICT (kind, name) DO UPDATE SET {counter} = cache_stats.{counter} + 1",
                (key.kind, key.name),
            )
            if hit:
                self.sql.execute(
                    "UPDATE cache SET hits = hits + 1 WHERE kind = ? AND name = ? "
                    "AND input_digest = ? AND version = ?",
                    (key.kind, key.name, key.input_digest, key.version),
                )

    def put_blob(self, data: bytes) -> str:
        return self.blobs.put(data)

    # -- runs and sessions -----------------------------------------------------------------
    def add_run(self, run_id: str, kind: str, meta: str, created_at: float, pid: int) -> None:
        self.sql.execute(
            "INSERT INTO runs (id, kind, status, meta, created_at, holder_pid) "
            "VALUES (?, ?, 'running', ?, ?, ?)",
            (run_id, kind, meta, created_at, pid),
        )

    def run_kind(self, run_id: str) -> str | None:
        row = self.sql.execute("SELECT kind FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else str(row[0])

    def claim_run(self, run_id: str, pid: int) -> None:
        self.sql.execute("UPDATE runs SET holder_pid = ? WHERE id = ?", (pid, run_id))

    def park_run(self, run_id: str, outcome: str | None, report: str | None) -> None:
        self.sql.execute(
            "UPDATE runs SET outcome = ?, report = ? WHERE id = ? AND status = 'running'",
            (outcome, report, run_id),
        )

    def run_meta(self, run_id: str) -> str | None:
        row = self.sql.execute("SELECT meta FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else row[0]

    def set_run_meta(self, run_id: str, meta: str) -> None:
        self.sql.execute("UPDATE runs SET meta = ? WHERE id = ?", (meta, run_id))

    def finish_run(
        self, run_id: str, outcome: str, report: str | None, at: float, *, if_running: bool
    ) -> None:
        self.sql.execute(
            "UPDATE runs SET status = 'finished', outcome = ?, report = coalesce(?, report), "
            "finished_at = ? WHERE id = ?" + (" AND status = 'running'" if if_running else ""),
            (outcome, report, at, run_id),
        )

    def open_session(self, run_id: str, number: int, meta: str, at: float) -> None:
        self.sql.execute(
            "INSERT INTO sessions (run_id, number, status, meta, started_at) "
            "VALUES (?, ?, 'open', ?, ?) ON CONFLICT (run_id, number) DO NOTHING",
            (run_id, number, meta, at),
        )

    def close_session(
        self, run_id: str, number: int, outcome: str, summary: str, at: float
    ) -> None:
        self.sql.execute(
            "UPDATE sessions SET status = 'closed', outcome = ?, summary = ?, ended_at = ? "
            "WHERE run_id = ? AND number = ?",
            (outcome, summary, at, run_id, number),
        )

    def close_open_sessions(self, run_id: str, outcome: str, at: float) -> None:
        self.sql.execute(
            "UPDATE sessions SET status = 'closed', outcome = ?, ended_at = ? "
            "WHERE run_id = ? AND status = 'open'",
            (outcome, at, run_id),
        )

    def last_session(self, run_id: str) -> int:
        row = self.sql.execute(
            "SELECT max(number) FROM sessions WHERE run_id = ?", (run_id,)
        ).fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def lock_run(self, run_id: str) -> None:
        self.locks.lock(run_id)

    def unlock_run(self, run_id: str) -> None:
        self.locks.unlock(run_id)
