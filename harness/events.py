"""Live events of this process: steps starting and ending, sessions, waits, questions.

The journal emits an event when a session opens or closes and when a live step starts,
ends, fails or is left waiting; the model gateway emits one before a retry back-off; the
question queue emits one when a question waits for a human. Observers (the progress
lines of `harness run`, its `--json` stream) subscribe with :func:`observing`. Emitting
with no observer costs one truth test; an observer sees events, it never changes them.

This module imports nothing of ours, so the journal, the gateway and the question queue
may all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


Observer = Callable[[Event], None]
_ACTIVE: list[Observer] = []


def active() -> bool:
    return bool(_ACTIVE)


def emit(event: Event) -> None:
    """Tell every observer (in subscription order)."""
    for observer in tuple(_ACTIVE):
        observer(event)


@contextmanager
def observing(*observers: Observer) -> Iterator[None]:
    """Subscribe ``observers`` for the duration of the block."""
    _ACTIVE.extend(observers)
    try:
        yield
    finally:
        for observer in observers:
            if observer in _ACTIVE:
                _ACTIVE.remove(observer)


def announce_wait(what: str, seconds: float, *, detail: str = "") -> None:
    """A wait of ``seconds`` begins now (a retry back-off): say what for and until when."""
    if not _ACTIVE:
        return
    import time

    emit(Event("wait", detail=detail or what, until=time.time() + seconds, data={"what": what}))
