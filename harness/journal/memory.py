"""The in-memory backend: the fake that loop, pipeline and session unit tests use.

A :class:`MemoryDatabase` holds a journal's tables in this process; stores and readers
opened on it see the same rows, with the SQL backends' semantics (the conformance suite
runs on all three): a batch writes all or nothing, a run lock is held until its store is
closed or dropped (as a killed process's is released). The chain's key is in the key file,
as for every backend.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import JournalDamaged, RunLocked
from harness.journal.reading import ReaderBase
from harness.journal.records import Begin, CacheEntry, CacheKey, End, Recorded, Result, SignedRow

if TYPE_CHECKING:
    from harness.journal import rows


@dataclass(slots=True)
class _Step:
    id: int
    run_id: str
    session: int
    begin: Begin
    result: Result
    attempts: int = 1
    ended_at: float | None = None
    duration: float | None = None
    gen: int = 0
    mac: bytes | None = None

    def recorded(self) -> Recorded:
        b = self.begin
        return Recorded(self.id, b.seq, b.kind, b.name, b.input_digest, bool(b.idempotent),
                        self.result, self.attempts, b.mac_start, self.mac)  # fmt: skip


@dataclass(slots=True)
class _Run:
    id: str
    kind: str
    created_at: float
    holder_pid: int | None
    meta: str
    status: str = "running"
    outcome: str | None = None
    report: str | None = None
    finished_at: float | None = None


@dataclass(slots=True)
class _Session:
    run_id: str
    number: int
    started_at: float
    meta: str
    status: str = "open"
    outcome: str | None = None
    summary: str | None = None
    ended_at: float | None = None


class MemoryDatabase:
    """A journal's tables in memory, shared by the stores and readers opened on it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.journal_id: str | None = None
        self.runs: dict[str, _Run] = {}
        self.sessions: dict[tuple[str, int], _Session] = {}
        self.steps: list[_Step] = []
        self.live: dict[tuple[str, int, int], int] = {}  # (run, session, seq) -> live row id
        self.cache: dict[CacheKey, tuple[CacheEntry, float, int]] = {}
        self.stats: dict[tuple[str, str], tuple[int, int]] = {}
        self.blobs: dict[str, bytes] = {}
        self.holders: dict[str, tuple[weakref.ref[MemoryStore], int]] = {}
        self.undo: list[Callable[[], None]] | None = None  # inside a batch
        self.extras: dict[str, Any] = {}  # other stores kept with the journal (questions)

    @property
    def exists(self) -> bool:
        return self.journal_id is not None

    def holder(self, run_id: str) -> int | None:
        held = self.holders.get(run_id)
        if held is None or held[0]() is None:  # a store dropped unclosed: a dead process
            return None
        return held[1]

    def change(self, obj: Any, **values: Any) -> None:
        """Set fields of a row, undone if the batch it is in fails."""
        if self.undo is not None:
            old = {name: getattr(obj, name) for name in values}

            def restore() -> None:
                for name, value in old.items():
                    setattr(obj, name, value)

            self.undo.append(restore)
        for name, value in values.items():
            setattr(obj, name, value)

    def drop(self, table: dict[Any, Any], key: Any) -> None:
        """Remove a table entry, put back if the batch it is in fails."""
        old = table.pop(key)
        if self.undo is not None:
            self.undo.append(lambda: table.update({key: old}))

    def put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """Set a table entry, undone if the batch it is in fails."""
        if self.undo is not None:
            missing = key not in table
            old = table.get(key)
            self.undo.append(lambda: table.pop(key) if missing else table.update({key: old}))
        table[key] = value


class MemoryReader(ReaderBase):
    """The read API over a :class:`MemoryDatabase`."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.journal_id = db.journal_id
        self.where = "the in-memory journal"

    def close(self) -> None:
        """Nothing to release."""

    def check_present(self) -> None:
        """An in-memory journal cannot be removed under its writer."""

    def get_blob(self, digest: str) -> bytes:
        data = self.db.blobs.get(digest)
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            raise JournalDamaged(f"blob {digest} of {self.where} is missing or does not match")
        return data

    def holder(self, run_id: str) -> int | None:
        return self.db.holder(run_id)

    def load_session(self, run_id: str, session: int) -> list[Recorded]:
        with self.db.lock:
            found = [s for s in self.db.steps
                     if s.run_id == run_id and s.session == session and s.gen == 0]  # fmt: skip
        return [s.recorded() for s in sorted(found, key=lambda s: s.begin.seq)]

    def _runs(self) -> list[_Run]:
        return list(self.db.runs.values())  # the order they began in

    def runs(self) -> list[rows.RunRow]:
        import json

        from harness.journal.rows import RunRow

        with self.db.lock:
            return [
                RunRow(
                    id=r.id,
                    kind=r.kind,
                    status=r.status,
                    outcome=r.outcome,
                    created_at=r.created_at,
                    finished_at=r.finished_at,
                    holder_pid=r.holder_pid,
                    meta=json.loads(r.meta) if r.meta else {},
                    report=json.loads(r.report) if r.report else None,
                )
                for r in self._runs()
            ]

    def unfinished_run(self, kind: str = "run") -> str | None:
        with self.db.lock:
            found = [r for r in self._runs() if r.kind == kind and r.status == "running"]
        return found[-1].id if found else None

    def latest_busy_run(self) -> str | None:
        with self.db.lock:
            busy = {s.run_id for s in self.db.steps}
            found = [r for r in self._runs() if r.id in busy]
        return found[-1].id if found else None

    def usage(self, run_id: str | None = None) -> tuple[int, float]:
        with self.db.lock:
            picked = [s.result for s in self.db.steps if run_id is None or s.run_id == run_id]
        return (sum(r.tokens or 0 for r in picked), float(sum(r.cost_usd or 0.0 for r in picked)))

    def sessions(self, run_id: str | None = None) -> list[rows.SessionRow]:
        import json

        from harness.journal.rows import SessionRow

        with self.db.lock:
            found = [s for s in self.db.sessions.values() if run_id in (None, s.run_id)]
            order = {r: index for index, r in enumerate(self.db.runs)}  # the order they began
        return [
            SessionRow(
                run_id=s.run_id,
                number=s.number,
                status=s.status,
                outcome=s.outcome,
                started_at=s.started_at,
                ended_at=s.ended_at,
                meta=json.loads(s.meta) if s.meta else {},
                summary=json.loads(s.summary) if s.summary else None,
            )
            for s in sorted(found, key=lambda s: (order.get(s.run_id, len(order)), s.number))
        ]

    def _step_fields(self, s: _Step) -> dict[str, Any]:
        import json

        b, r = s.begin, s.result
        return {
            "rowid": s.id, "run_id": s.run_id, "session": s.session, "seq": b.seq,
            "kind": b.kind, "name": b.name, "status": r.status, "attempts": s.attempts,
            "input_digest": b.input_digest, "started_at": b.started_at, "ended_at": s.ended_at,
            "duration": s.duration, "tokens": r.tokens, "cost_usd": r.cost_usd,
            "cached": r.cached, "idempotent": bool(b.idempotent),
            "error_class": json.loads(r.error).get("class") if r.error else None,
        }  # fmt: skip

    def steps(
        self,
        run_id: str | None = None,
        session: int | None = None,
        since_rowid: int | None = None,
        *,
        include_superseded: bool = False,
    ) -> list[rows.StepRow]:
        from harness.journal.rows import StepRow

        with self.db.lock:
            found = [
                s for s in self.db.steps
                if run_id in (None, s.run_id) and session in (None, s.session)
                and (since_rowid is None or s.id > since_rowid)
                and (include_superseded or s.gen == 0)
            ]  # fmt: skip
        return [StepRow(**self._step_fields(s)) for s in found]

    def step_detail(self, run_id: str, session: int, seq: int) -> rows.StepDetail | None:
        import json

        from harness.journal.rows import StepDetail

        with self.db.lock:
            found = [s for s in self.db.steps
                     if (s.run_id, s.session, s.begin.seq) == (run_id, session, seq)]  # fmt: skip
        if not found:
            return None
        step = sorted(found, key=lambda s: (s.gen != 0, -s.id))[0]
        detail = self._step_fields(step)
        detail["inputs"] = self.load(step.begin.inputs, step.begin.inputs_blob)
        detail["output"] = self.load(step.result.output, step.result.output_blob)
        detail["error"] = json.loads(step.result.error) if step.result.error else None
        return StepDetail(**detail)

    def last_rowid(self) -> int:
        return len(self.db.steps)

    def session_totals(
        self, run_id: str | None = None, session: int | None = None
    ) -> dict[tuple[str, int], tuple[int, int, float]]:
        totals: dict[tuple[str, int], tuple[int, int, float]] = {}
        with self.db.lock:
            for s in self.db.steps:
                if run_id not in (None, s.run_id) or (run_id and session not in (None, s.session)):
                    continue
                steps, tokens, cost = totals.get((s.run_id, s.session), (0, 0, 0.0))
                totals[(s.run_id, s.session)] = (
                    steps + (s.result.status != "superseded"),
                    tokens + (s.result.tokens or 0),
                    cost + (s.result.cost_usd or 0.0),
                )
        return totals

    def cache_stats(self) -> list[rows.CacheStat]:
        from harness.journal.rows import CacheStat

        with self.db.lock:
            stats = sorted(self.db.stats.items())
        return [CacheStat(kind=k, name=n, hits=h, misses=m) for (k, n), (h, m) in stats]

    def signed_rows(self) -> Iterator[SignedRow]:
        with self.db.lock:
            steps = sorted(self.db.steps, key=lambda s: (s.gen != 0, s.run_id, s.session,
                                                         s.begin.seq, s.id))  # fmt: skip
        for s in steps:
            yield SignedRow(s.run_id, s.session, s.gen != 0, s.recorded())

    def cache_entries(self) -> Iterator[tuple[Any, ...]]:
        with self.db.lock:
            entries = list(self.db.cache.items())
        for key, (entry, _, _) in entries:
            yield (key.kind, key.name, key.input_digest, key.version, entry.output,
                   entry.output_blob, entry.mac)  # fmt: skip

    def blob_refs(self) -> tuple[list[str], list[str]]:
        with self.db.lock:
            missing = {d for s in self.db.steps for d in (s.begin.inputs_blob, s.result.output_blob)
                       if d is not None and d not in self.db.blobs}  # fmt: skip
            return list(self.db.blobs), sorted(missing)


class MemoryStore(MemoryReader):
    """A writer of a :class:`MemoryDatabase` (``backend.Backend``)."""

    lazy_ends = False  # a commit costs nothing here

    def __init__(self, db: MemoryDatabase) -> None:
        with db.lock:
            if db.journal_id is None:
                from harness.journal import keys

                journal_id = keys.new_journal_id()
                keys.create_key(journal_id)
                db.journal_id = journal_id
        super().__init__(db)
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
            step = _Step(len(db.steps) + 1, row.run_id, row.session, row, Result("started"))
            if (row.run_id, row.session, row.seq) in db.live:
                from harness.errors import JournalError

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
            self.db.put(self.db.runs, run_id, _Run(run_id, kind, created_at, pid, meta))

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
                self.db.put(self.db.sessions, (run_id, number), _Session(run_id, number, at, meta))

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
