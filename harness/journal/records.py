"""Typed rows between the step door and a store: what a step recorded, what it writes.

The door (``door.py``) decides; a store (``backend.py``) keeps these rows as they are. A
row's text fields are already encoded and redacted (``codec``), its MACs computed
(``chain``): a store never interprets them. Rows are named tuples, read by field name:
immutable, and cheap to build (replay builds one per recorded step).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Status = Literal["started", "ended", "failed", "superseded"]

# Builds a row from a tuple of all its fields, in order, without the Python-level __new__
# a NamedTuple call runs (a third of a live step's cost here): ``row(Result, (...))``.
row = tuple.__new__


class Result(NamedTuple):
    """What a step produced, as stored: the fields its end MAC covers (``Chain.result``)."""

    status: Status
    output: str | None = None
    output_blob: str | None = None
    error: str | None = None
    tokens: int | None = None
    cost_usd: float | None = None
    cached: bool = False

    def as_superseded(self) -> Result:
        return self._replace(status="superseded")


STARTED = Result("started")


class Recorded(NamedTuple):
    """A live (not superseded) step row of a session, as loaded for replay."""

    row_id: int
    seq: int
    kind: str
    name: str
    input_digest: str
    idempotent: bool
    result: Result
    attempts: int
    mac_start: bytes | None
    mac: bytes | None

    @property
    def status(self) -> Status:
        return self.result.status


class Begin(NamedTuple):
    """The row a step writes before its work runs (status ``started``, attempt 1)."""

    run_id: str
    session: int
    seq: int
    kind: str
    name: str
    input_digest: str
    inputs: str | None
    inputs_blob: str | None
    idempotent: int  # 1 or 0, as stored (the fields are the insert's parameters, in order)
    started_at: float
    mac_start: bytes


class End(NamedTuple):
    """How a step finished (ended or failed): its result, when, how long, and its MAC."""

    result: Result
    ended_at: float
    duration: float
    mac: bytes


class CacheKey(NamedTuple):
    """What a cached output is found by: the step's kind, name, input digest and version."""

    kind: str
    name: str
    input_digest: str
    version: str


class CacheEntry(NamedTuple):
    """A cached output (inline or a blob) and its MAC (``Chain.cache``)."""

    output: str | None
    output_blob: str | None
    mac: bytes | None


class SignedRow(NamedTuple):
    """Any step row with what its chain check needs (``harness journal verify``)."""

    run_id: str
    session: int
    superseded: bool
    record: Recorded
