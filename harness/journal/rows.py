"""The rows of the read API (what `log`, `show`, `status`, the TUI read); each backend's
reader builds them. Plain dataclasses: a reader builds one per step (10,000 for a long
`harness log`), and they need no validation: the journal wrote them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class _Row:
    def as_json(self) -> dict[str, Any]:
        """The row as JSON-able data (``harness log --json``, ``export``, ``show``)."""
        return asdict(self)


@dataclass
class RunRow(_Row):
    id: str
    kind: str
    status: str
    outcome: str | None
    created_at: float
    finished_at: float | None = None
    holder_pid: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """What the run recorded about itself, e.g. ``runner``: {name, sandboxed, description}."""
    report: dict[str, Any] | None = None


@dataclass
class SessionRow(_Row):
    run_id: str
    number: int
    status: str
    outcome: str | None
    started_at: float
    ended_at: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None


@dataclass
class StepRow(_Row):
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


@dataclass
class StepDetail(StepRow):
    inputs: Any = None
    output: Any = None
    error: dict[str, Any] | None = None


@dataclass
class CacheStat(_Row):
    kind: str
    name: str
    hits: int
    misses: int
