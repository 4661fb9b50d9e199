"""What a journal backend implements: a small store that keeps rows and decides nothing.

Everything a step decides (replay, divergence, recovery, the in-flight re-run, the cache,
the HMAC chain, deferring an end) lives above, in ``door.py`` and ``journal.py``, written
once for every backend. A backend is one class with three sides:

- :class:`StepStore`: a session's rows and a step's life (load, begin, end, supersede,
  the cross-run cache, blobs, and ``batch`` for one transaction);
- :class:`RunStore`: runs, sessions and the run locks;
- the read API of ``protocol.JournalReader`` (what ``log``, ``status``, the TUI read).

Three backends: ``sqlite`` (the embedded default), ``memory`` (the fake for unit tests)
and ``postgres`` (psycopg 3). The same conformance suite (tests/harness/journal/) runs on
each. Keys never live in a store: the chain's key is read from the key file (``keys``).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from harness.journal.protocol import JournalReader

if TYPE_CHECKING:
    from harness.journal.chain import Chain
    from harness.journal.records import Begin, CacheEntry, CacheKey, End, Recorded


class StepStore(Protocol):
    """The rows of steps. Text fields arrive encoded and MACs computed; kept as they are."""

    lazy_ends: bool
    """Whether an end may ride with the next write (``Journal`` defers quick steps' ends):
    True where a commit costs (SQLite, PostgreSQL), False where it is free (memory)."""

    def load_session(self, run_id: str, session: int) -> list[Recorded]:
        """The session's live rows (superseded ones left out), by seq."""
        ...

    def begin(self, row: Begin, end: End | None = None) -> int:
        """Insert a step row (``started``, or already ended: a cache hit); its row id."""
        ...

    def end_and_begin(self, row_id: int, end: End, row: Begin) -> int:
        """One transaction: a deferred step end, then the next step's started row (its
        row id). All or nothing: a failure writes neither."""
        ...

    def restart(self, row_id: int, started_at: float) -> None:
        """A step runs again: ``started`` once more, one more attempt, no error kept."""
        ...

    def note(self, row_id: int, error: str) -> None:
        """Keep why a step was left in flight (its status stays ``started``)."""
        ...

    def end(self, row_id: int, end: End) -> None:
        """Record how a step finished: ended or failed (``end.result.status``)."""
        ...

    def supersede(self, marks: Sequence[tuple[int, bytes]]) -> None:
        """Mark rows superseded (out of the live record, kept), each with its new MAC."""
        ...

    def cache_get(self, key: CacheKey) -> CacheEntry | None: ...

    def cache_put(self, key: CacheKey, entry: CacheEntry, at: float) -> None: ...

    def cache_count(self, key: CacheKey, hit: bool) -> None:
        """Count a lookup (``cache_stats``); a hit also counts on the entry."""
        ...

    def put_blob(self, data: bytes) -> str:
        """Keep a large payload by content; its sha256 hex digest."""
        ...

    def get_blob(self, digest: str) -> bytes:
        """A payload by digest; JournalDamaged if it is missing or does not match."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """One transaction around what the block writes (nested: joins the outer one)."""
        ...


class RunStore(Protocol):
    """Runs, sessions and the locks that let one process drive a run."""

    def add_run(self, run_id: str, kind: str, meta: str, created_at: float, pid: int) -> None: ...

    def run_kind(self, run_id: str) -> str | None:
        """The kind of a run (None: no such run)."""
        ...

    def claim_run(self, run_id: str, pid: int) -> None:
        """Record the process that drives the run now."""
        ...

    def park_run(self, run_id: str, outcome: str | None, report: str | None) -> None: ...

    def run_meta(self, run_id: str) -> str | None: ...

    def set_run_meta(self, run_id: str, meta: str) -> None: ...

    def finish_run(
        self, run_id: str, outcome: str, report: str | None, at: float, *, if_running: bool
    ) -> None: ...

    def open_session(self, run_id: str, number: int, meta: str, at: float) -> None:
        """Open a session (kept as it is if it was opened before)."""
        ...

    def close_session(
        self, run_id: str, number: int, outcome: str, summary: str, at: float
    ) -> None: ...

    def close_open_sessions(self, run_id: str, outcome: str, at: float) -> None: ...

    def last_session(self, run_id: str) -> int:
        """The highest session number of the run (0 if none)."""
        ...

    def lock_run(self, run_id: str) -> None:
        """Take the run's lock for this process (RunLocked if a live process holds it)."""
        ...

    def unlock_run(self, run_id: str) -> None: ...


class Backend(StepStore, RunStore, JournalReader, Protocol):
    """A store a process writes; it answers the read API too (``protocol.JournalReader``)."""

    def __enter__(self) -> Backend: ...

    def load(self, text: str | None, blob: str | None) -> Any:
        """The JSON value stored inline or in a blob (None if neither)."""
        ...

    def load_session(self, run_id: str, session: int) -> list[Recorded]: ...

    def chain(self) -> Chain:
        """The journal's HMAC chain (its key from the key file, never from the store)."""
        ...
