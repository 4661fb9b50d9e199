"""The writer of a :class:`MemoryDatabase`: steps, runs, sessions, the cache, run locks."""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Sequence
from typing import Any

from harness.errors import JournalError, RunLocked
from harness.journal import keys
from harness.journal.memory.reader import MemoryReader
from harness.journal.memory.tables import MemoryDatabase, RunEntry, SessionEntry, StepEntry
from harness.journal.records import Begin, CacheEntry, CacheKey, End, Result


class MemoryStore(MemoryReader):
    """A writer of a :class:`MemoryDatabase` (``backend.Backend``)."""

    lazy_ends = False  # a commit costs nothing here

    def __init__(self, db: MemoryDatabase, source: keys.KeySource = keys.KEY_FILES) -> None:
        with db.lock:
            if db.journal_id is None:
                journal_id = keys.new_journal_id()
                source.create(journal_id)
                db.journal_id = journal_id
        super().__init__(db)
        self.key_source = source
        self.journal_id = db.journal_id
        self._held: set[str] = set()

    def close(self) -> None:
        for run_id in list(self._held):
            self.unlock_run(run_id)

    def batch(self) -> _Batch:
        return _Batch(self.db)

    # -- steps ---------------------------------------------------------------------------
    def begin(self, row: Begin, end: End | None = None) -> int:
        db = self.db
        with db.lock:
            step = StepEntry(len(db.steps) + 1, row.run_id, row.session, row, Result("started"))
            if (row.run_id, row.session, row.seq) in db.live:
                raise JournalError(f"{self.where}: step {row.run_id}/{row.session}/{row.seq} "
                                   "is recorded already")  # fmt: skip
            if end is not None:
                step.result, step.ended_at, step.duration, step.mac = (
                    end.result, end.ended_at, end.duration, end.mac)  # fmt: skip
            db.steps.append(step)
            if db.undo is not None:
                db.undo.append(lambda: db.steps.remove(step))
            db.put(db.live, (row.run_id, row.session, row.seq), step.id)
            return step.id

    def end_and_begin(self, row_id: int, end: End, row: Begin) -> int:
        with self.batch():
            self.end(row_id, end)
            return self.begin(row)

    def restart(self, row_id: int, started_at: float) -> None:
        step = self.db.steps[row_id - 1]
        with self.db.lock:
            self.db.change(step, begin=step.begin._replace(started_at=started_at),
                           attempts=step.attempts + 1,
                           result=step.result._replace(status="started", error=None))  # fmt: skip

    def note(self, row_id: int, error: str) -> None:
        step = self.db.steps[row_id - 1]
        with self.db.lock:
            self.db.change(step, result=step.result._replace(error=error))

    def end(self, row_id: int, end: End) -> None:
        step = self.db.steps[row_id - 1]
        with self.db.lock:
            self.db.change(step, result=end.result, ended_at=end.ended_at,
                           duration=end.duration, mac=end.mac)  # fmt: skip

    def supersede(self, marks: Sequence[tuple[int, bytes]]) -> None:
        with self.db.lock, self.batch():
            for row_id, mac in marks:
                step = self.db.steps[row_id - 1]
                self.db.change(step, result=step.result.as_superseded(), gen=row_id, mac=mac)
                key = (step.run_id, step.session, step.begin.seq)
                if self.db.live.get(key) == row_id:
                    self.db.drop(self.db.live, key)

    def cache_get(self, key: CacheKey) -> CacheEntry | None:
        found = self.db.cache.get(key)
        return None if found is None else found[0]

    def cache_put(self, key: CacheKey, entry: CacheEntry, at: float) -> None:
        with self.db.lock:
            self.db.put(self.db.cache, key, (entry, at, 0))

    def cache_count(self, key: CacheKey, hit: bool) -> None:
        db = self.db
        with db.lock:
            hits, misses = db.stats.get((key.kind, key.name), (0, 0))
            db.put(db.stats, (key.kind, key.name), (hits + hit, misses + (not hit)))
            if hit and key in db.cache:
                entry, at, count = db.cache[key]
                db.put(db.cache, key, (entry, at, count + 1))

    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self.db.lock:
            self.db.put(self.db.blobs, digest, data)
        return digest

    # -- runs and sessions -----------------------------------------------------------------
    def add_run(self, run_id: str, kind: str, meta: str, created_at: float, pid: int) -> None:
        with self.db.lock:
            self.db.put(self.db.runs, run_id, RunEntry(run_id, kind, created_at, pid, meta))

    def run_kind(self, run_id: str) -> str | None:
        run = self.db.runs.get(run_id)
        return None if run is None else run.kind

    def _run(self, run_id: str, **values: Any) -> None:
        with self.db.lock:
            run = self.db.runs.get(run_id)
            if run is not None:
                self.db.change(run, **values)

    def claim_run(self, run_id: str, pid: int) -> None:
        self._run(run_id, holder_pid=pid)

    def park_run(self, run_id: str, outcome: str | None, report: str | None) -> None:
        run = self.db.runs.get(run_id)
        if run is not None and run.status == "running":
            self._run(run_id, outcome=outcome, report=report)

    def run_meta(self, run_id: str) -> str | None:
        run = self.db.runs.get(run_id)
        return None if run is None else run.meta

    def set_run_meta(self, run_id: str, meta: str) -> None:
        self._run(run_id, meta=meta)

    def finish_run(
        self, run_id: str, outcome: str, report: str | None, at: float, *, if_running: bool
    ) -> None:
        run = self.db.runs.get(run_id)
        if run is None or (if_running and run.status != "running"):
            return
        self._run(run_id, status="finished", outcome=outcome, finished_at=at,
                  report=report if report is not None else run.report)  # fmt: skip

    def open_session(self, run_id: str, number: int, meta: str, at: float) -> None:
        with self.db.lock:
            if (run_id, number) not in self.db.sessions:
                entry = SessionEntry(run_id, number, at, meta)
                self.db.put(self.db.sessions, (run_id, number), entry)

    def close_session(
        self, run_id: str, number: int, outcome: str, summary: str, at: float
    ) -> None:
        with self.db.lock:
            found = self.db.sessions.get((run_id, number))
            if found is not None:
                self.db.change(found, status="closed", outcome=outcome, summary=summary,
                               ended_at=at)  # fmt: skip

    def close_open_sessions(self, run_id: str, outcome: str, at: float) -> None:
        with self.db.lock:
            for found in self.db.sessions.values():
                if found.run_id == run_id and found.status == "open":
                    self.db.change(found, status="closed", outcome=outcome, ended_at=at)

    def last_session(self, run_id: str) -> int:
        return max((n for r, n in self.db.sessions if r == run_id), default=0)

    def lock_run(self, run_id: str) -> None:
        with self.db.lock:
            pid = self.db.holder(run_id)
            held = self.db.holders.get(run_id)
            if pid is not None and held is not None and held[0]() is not self:
                raise RunLocked(
                    f"run {run_id} is being driven by another process (pid {pid}); "
                    "wait for it to finish or stop it, then try again"
                )
            self.db.holders[run_id] = (weakref.ref(self), os.getpid())
            self._held.add(run_id)

    def unlock_run(self, run_id: str) -> None:
        with self.db.lock:
            held = self.db.holders.get(run_id)
            if held is not None and held[0]() is self:
                del self.db.holders[run_id]
            self._held.discard(run_id)


class _Batch:
    """All or nothing: what the block changed is undone if it raises (nested: joins)."""

    __slots__ = ("db", "outer")

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> None:
        self.db.lock.acquire()
        self.outer = self.db.undo is None
        if self.outer:
            self.db.undo = []

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if self.outer:
                undo, self.db.undo = self.db.undo or [], None
                if kind is not None:
                    for step in reversed(undo):
                        step()
        finally:
            self.db.lock.release()
