"""The read API over a :class:`MemoryDatabase` (what `log`, `status`, the TUI read)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from harness.errors import JournalDamaged
from harness.journal.reading import ReaderBase
from harness.journal.records import Recorded, SignedRow
from harness.journal.rows import CacheStat, RunRow, SessionRow, StepDetail, StepRow

if TYPE_CHECKING:
    from harness.journal import rows
    from harness.journal.memory.tables import MemoryDatabase, RunEntry, StepEntry


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

    def _runs(self) -> list[RunEntry]:
        return list(self.db.runs.values())  # the order they began in

    def runs(self) -> list[rows.RunRow]:

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

    def _step_fields(self, s: StepEntry) -> dict[str, Any]:

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

        with self.db.lock:
            found = [
                s for s in self.db.steps
                if run_id in (None, s.run_id) and session in (None, s.session)
                and (since_rowid is None or s.id > since_rowid)
                and (include_superseded or s.gen == 0)
            ]  # fmt: skip
        return [StepRow(**self._step_fields(s)) for s in found]

    def step_detail(self, run_id: str, session: int, seq: int) -> rows.StepDetail | None:

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
