"""The in-memory journal's tables: its rows and the database that holds them, with the
undo log that makes a batch all or nothing."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.journal.records import Begin, CacheEntry, CacheKey, Recorded, Result

if TYPE_CHECKING:
    from harness.journal.memory.store import MemoryStore


@dataclass(slots=True)
class StepEntry:
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
class RunEntry:
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
class SessionEntry:
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
        self.runs: dict[str, RunEntry] = {}
        self.sessions: dict[tuple[str, int], SessionEntry] = {}
        self.steps: list[StepEntry] = []
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
