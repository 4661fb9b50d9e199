"""Live events of a run: steps starting and ending, sessions, waits, questions.

Each run has its own :class:`Events` (its observers), passed to what emits: the journal
emits an event when a session opens or closes and when a live step starts, ends, fails or
is left waiting; the model gateway emits one before a retry back-off; the question queue
emits one when a question waits for a human; the session's escalation one when a refit
changes the matrix's weights or threshold. Observers (the progress lines of `harness run`,
its `--json` stream) are given to the run's ``Events``; two runs in one process never see
each other's events. Emitting with no observer costs one truth test; an
observer sees events, it never changes them.

This module imports nothing of ours, so the journal, the gateway and the question queue
may all use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventType = Literal[
    "run.started",
    "run.ended",
    "session.started",
    "session.ended",
    "step.started",
    "step.ended",
    "step.failed",
    "step.waiting",
    "wait",
    "question",
    "policy.changed",
    "notice",
]


@dataclass(frozen=True)
class Event:
    """One thing that happened now. Step fields are empty for a ``wait`` of the gateway."""

    type: EventType
    run_id: str = ""
    session: int | None = None
    seq: int | None = None
    kind: str = ""
    name: str = ""
    status: str = ""
    attempts: int = 1
    duration_s: float | None = None
    tokens: int | None = None
    cost_usd: float | None = None
    detail: str = ""
    until: float | None = None  # epoch seconds: the end of a wait, when known
    data: dict[str, Any] = field(default_factory=dict)
    # epoch seconds: when it happened (an observer may write it later: a slow terminal)
    ts: float = field(default_factory=time.time, compare=False)


Observer = Callable[[Event], None]


class Events:
    """The observers of one run, and the one way to tell them something."""

    def __init__(self, *observers: Observer) -> None:
        self._observers: tuple[Observer, ...] = observers

    @property
    def active(self) -> bool:
        """Whether anyone listens (emitters skip building an event otherwise)."""
        return bool(self._observers)

    def emit(self, event: Event) -> None:
        """Tell every observer (in subscription order)."""
        for observer in self._observers:
            observer(event)

    def notice(self, text: str, *, session: int | None = None) -> None:
        """Something harness did or found that the user should hear of (a file kept out of
        a commit, a lock cleared): a progress line, a ``notice`` on the --json stream, and
        nothing with ``--quiet``."""
        if self._observers:
            self.emit(Event("notice", session=session, detail=text))

    def announce_wait(self, what: str, seconds: float, *, detail: str = "") -> None:
        """A wait of ``seconds`` begins now (a retry back-off): say what for and until when."""
        if not self._observers:
            return

        now = time.time()
        self.emit(
            Event("wait", detail=detail or what, until=now + seconds, data={"what": what}, ts=now)
        )
