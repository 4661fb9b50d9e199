"""The journal's interface, as the rest of harness uses it.

Three sides, each a :class:`typing.Protocol`, so any class with these members is a journal:

- :class:`JournalReader`: what ``harness log``, ``show``, ``export``, ``state``, the demo's
  summary and the TUI read. It must stay cheap: the TUI polls it about once a second while
  a run writes (the SQLite reader is a read-only connection that never blocks the writer).
- :class:`JournalStore`: a reader that also starts and resumes runs (``harness run``,
  ``harness init``); :class:`RunJournal` is one run, :class:`StepJournal` one session's
  door, through which every step of the session goes (record, replay, recover, cache).

The writer is :class:`harness.journal.Journal` (with ``Run`` and the step door
``StepDoor``) over any backend's store (``backend.Backend``: SQLite, memory, PostgreSQL);
each backend's reader implements :class:`JournalReader`. :func:`open_store` and
:func:`open_reader` choose the backend from a ``location.Location``;
``session.chaos.ChaosJournal`` is a decorator of :class:`StepJournal`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from harness.events import Events
    from harness.journal.evidence import CitedStep
    from harness.journal.location import Location
    from harness.journal.rows import CacheStat, RunRow, SessionRow, StepDetail, StepRow
    from harness.redact import Redactor

T = TypeVar("T")

# (steps, tokens, cost in dollars) of one session, superseded steps left out.
Totals = tuple[int, int, float]


class JournalReader(Protocol):
    """The read API: runs, sessions, steps and one step's detail."""

    journal_id: str | None
    """The journal's identity (None for a version-1 SQLite journal, made before the chain)."""
    where: str
    """The journal named for messages: a file path, or a URL without its password."""

    def runs(self) -> list[RunRow]:
        """Every run, oldest first."""
        ...

    def latest_run(self) -> str | None:
        """The id of the newest run (None if there is none)."""
        ...

    def unfinished_run(self, kind: str = "run") -> str | None:
        """The newest run of ``kind`` that has not finished, if any."""
        ...

    def latest_busy_run(self) -> str | None:
        """The newest run that journaled at least one step (None if none did)."""
        ...

    def holder(self, run_id: str) -> int | None:
        """The pid of the live process that drives the run now (holds its lock), else None."""
        ...

    def usage(self, run_id: str | None = None) -> tuple[int, float]:
        """(tokens, dollars) of the steps of ``run_id`` (every run if None), superseded too."""
        ...

    def sessions(self, run_id: str | None = None) -> list[SessionRow]:
        """The sessions of ``run_id`` (default: of every run), in the order they started."""
        ...

    def steps(
        self,
        run_id: str | None = None,
        session: int | None = None,
        since_rowid: int | None = None,
        *,
        include_superseded: bool = False,
    ) -> list[StepRow]:
        """Steps in the order they were written; ``since_rowid`` reads only newer ones."""
        ...

    def step_detail(self, run_id: str, session: int, seq: int) -> StepDetail | None:
        """One step with its inputs, output and error loaded (None if there is no such step)."""
        ...

    def last_rowid(self) -> int:
        """The ``rowid`` of the newest step (0 for an empty journal)."""
        ...

    def session_totals(
        self, run_id: str | None = None, session: int | None = None
    ) -> dict[tuple[str, int], Totals]:
        """(run, session) -> (steps, tokens, cost) of every session, or of the one asked for."""
        ...

    def cache_stats(self) -> list[CacheStat]:
        """Hits and misses of the step cache per (kind, name)."""
        ...

    def cited_step(self, ref: str) -> CitedStep | str:
        """The step an evidence reference cites, chain-checked; else why it does not hold."""
        ...

    def check_present(self) -> None:
        """``JournalLost`` if the journal was removed or replaced on disk while open."""
        ...

    def close(self) -> None:
        """Release what the reader holds (connections; a store also releases its run locks)."""
        ...

    def __enter__(self) -> JournalReader: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


class StepJournal(Protocol):
    """One session's door: every step of the session goes through :meth:`step`."""

    @property
    def replaying(self) -> bool:
        """True while recorded steps remain to be replayed."""
        ...

    @property
    def seq(self) -> int:
        """The seq of the step in flight (inside its ``fn``), else of the last step begun."""
        ...

    @property
    def last_seq(self) -> int:
        """The seq of the last step that finished (ended, failed, replayed or cached)."""
        ...

    @property
    def resumed_in_flight(self) -> bool:
        """Inside a step's ``fn``: the step was in flight when the last process died (a model
        request may have been sent, and billed, with no answer recorded)."""
        ...

    def ref(self, seq: int) -> str:
        """The evidence reference of a step: ``journal:<run>/<session>/<seq>``."""
        ...

    def recorded_next(self) -> tuple[str, str] | None:
        """(kind, name) of the recorded step the replay expects next; None when the session
        goes on live. A step newer code adds asks it first: where the record goes on without
        it (recorded by an older harness), its work is done unrecorded, the replay goes on."""
        ...

    def skip_nested(self, through: int) -> None:
        """Go past the nested steps of a step just replayed, up to seq ``through`` (a
        code-mode program's tool calls: its recorded result already holds what they did)."""
        ...

    def step(
        self,
        kind: str,
        name: str,
        inputs: Any,
        fn: Callable[[], T],
        *,
        cache: bool = False,
        idempotent: bool = True,
        recover: Callable[[], T | None] | None = None,
        version: str = "1",
        output: type[T] | None = None,
    ) -> T:
        """Run ``fn`` as step ``kind``/``name`` once, durably (see ``SessionJournal.step``)."""
        ...

    def close(self, outcome: str, summary: dict[str, Any]) -> None:
        """Close the session with its outcome and a summary."""
        ...


class RunJournal(Protocol):
    """One run: a numbered series of sessions driven by one process at a time."""

    @property
    def id(self) -> str: ...

    @property
    def journal(self) -> JournalReader:
        """The journal the run lives in, to read its sessions and steps."""
        ...

    def session(self, number: int, meta: dict[str, Any] | None = None) -> StepJournal:
        """Open session ``number``; if it has recorded steps they replay first."""
        ...

    def next_session_number(self) -> int: ...

    def park(self, outcome: str | None, report: dict[str, Any]) -> None:
        """Record why the run stopped unfinished (resumable); None: it is driven again."""
        ...

    def annotate(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the run's meta (e.g. the runner in use, for the TUI)."""
        ...

    def finish(self, outcome: str, report: dict[str, Any]) -> None:
        """Mark the run finished and release its lock."""
        ...


class JournalStore(JournalReader, Protocol):
    """A journal a process writes: it starts runs and takes them over."""

    def __enter__(self) -> JournalStore: ...

    def start_run(self, kind: str = "run", meta: dict[str, Any] | None = None) -> RunJournal:
        """Create a run and take its lock (``RunLocked`` if another process drives it)."""
        ...

    def resume_run(self, run_id: str) -> RunJournal:
        """Take over an existing run (``RunLocked`` if another live process drives it)."""
        ...

    def close_open_sessions(self, run_id: str, outcome: str) -> None:
        """Close the sessions of ``run_id`` still open with ``outcome`` (its run ends)."""
        ...

    def close_abandoned(self, kind: str = "run") -> str | None:
        """Finish as interrupted the runs of ``kind`` a dead process left, but the newest;
        that newest unfinished run (None: there is none)."""
        ...


def journal_exists(where: Location | Path) -> bool:
    """Whether there is a journal there (without opening, let alone creating, one)."""
    # lazy: `harness status` asks this without loading the journal writer
    from harness.journal.location import journal_exists as exists  # noqa: PLC0415

    return exists(where)


def open_store(
    where: Location | Path,
    *,
    synchronous: str = "NORMAL",
    redactor: Redactor | None = None,
    events: Events | None = None,
) -> JournalStore:
    """The project's journal for writing (created if absent), checked before any write.

    ``redactor`` hides the run's secrets from every row (default: the secret-named
    variables of ``os.environ``, no declared name); ``events`` are told of sessions and
    live steps (default: nobody). ``Journal.open`` has the tests' options too."""
    # lazy: the writer (and its backends) load when a run opens its journal
    from harness.journal.journal import Journal  # noqa: PLC0415

    return Journal.open(where, synchronous=synchronous, redactor=redactor, events=events)


def open_reader(where: Location | Path) -> JournalReader:
    """The project's journal, read-only: never blocks a writer, never writes."""
    # lazy: a reader loads no writer nor backend module
    from harness.journal.location import open_reader as open_read  # noqa: PLC0415

    return open_read(where)
