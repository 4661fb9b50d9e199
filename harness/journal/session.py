"""SessionJournal: the one door every step goes through (record, replay, recover, cache)."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from harness import events
from harness.errors import (
    CommitPending,
    ContextWindowExceeded,
    GitRefused,
    ModelError,
    ModelFatal,
    Parked,
    ProviderUnavailable,
    QuotaExhausted,
    RunnerError,
    StepFailed,
    StorageError,
)
from harness.journal.chain import ROW_COLUMNS, check_row
from harness.journal.codec import decode_error, digest, encode, encode_error

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from harness.journal.journal import Journal

T = TypeVar("T")


# Errors that say "not now" rather than "this step failed": a question awaiting its answer,
# a Docker engine that is down, a spent provider quota, a full or read-only disk, a commit
# git could not make yet (a lock), a provider unreachable past its deadline, a model error
# the user fixes (a bad key, a wrong model name). The step is left in flight (no ended
# row), so the resumed run runs it again instead of replaying the failure.
IN_FLIGHT = (
    Parked,
    GitRefused,  # a repository the user must fix (its config would run a program)
    RunnerError,
    QuotaExhausted,
    StorageError,
    CommitPending,
    ProviderUnavailable,
    ModelFatal,
)
# A recorded failure of these kinds, the last step of its session, is not replayed but run
# again when it is a model error or a bug (not a harness decision such as a spent budget):
# a model request has no side effect, and its failure (a malformed answer, a key since
# fixed, an IndexError since fixed) may not recur.
RERUN_FAILED_KINDS = frozenset({"llm"})


def _rerun(rec: _Recorded) -> bool:
    """A failed model step that ended its session's record runs again (a compaction signal
    replays: the session went on from it)."""
    if rec[1] not in RERUN_FAILED_KINDS:
        return False
    error = decode_error(rec[6] or "{}")
    if isinstance(error, ContextWindowExceeded):
        return False
    return isinstance(error, ModelError | StepFailed)


class DivergenceWarning(UserWarning):
    """The code asked for a different step than the one recorded at this position."""


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    """A cached TypeAdapter (building one costs far more than a replayed step)."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        from pydantic import TypeAdapter  # imported on first use: pydantic is slow to import

        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


class _Live:
    """A step that runs now: its row, timing and cache key."""

    __slots__ = (
        "cache", "deferrable", "input_digest", "kind", "mac", "name", "row_id", "seq", "t0",
        "version",
    )  # fmt: skip

    def __init__(
        self,
        row_id: int,
        seq: int,
        kind: str,
        name: str,
        input_digest: str,
        version: str,
        cache: bool,
        t0: float,
        mac: bytes,
    ) -> None:
        self.row_id, self.seq, self.kind, self.name = row_id, seq, kind, name
        self.input_digest, self.version, self.cache, self.t0 = input_digest, version, cache, t0
        self.mac = mac  # the row's mac_start, which its end is chained to
        self.deferrable = False  # may its end ride with the next write (``DEFER_S``)?


# The end of an idempotent step quicker than this is written with the next statement, in
# one commit (a step then costs one commit, not two). Lost in a crash, the step looks in
# flight and runs again, which costs less than the commit saved. Never for the steps that
# cost money or a person's time to run again.
DEFER_S = 0.002
NEVER_DEFERRED = frozenset({"llm", "human"})

# (seq, kind, name, status, output, output_blob, error, attempts, id)
_Recorded = tuple[int, str, str, str, str | None, str | None, str | None, int, int]

_INSERT = (
    "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, inputs, inputs_blob, "
    "status, attempts, idempotent, started_at, mac_start) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'started', 1, ?, ?, ?)"
)
_END = (
    "UPDATE steps SET status = 'ended', output = ?, output_blob = ?, ended_at = ?, duration = ?, "
    "tokens = ?, cost_usd = ?, mac = ? WHERE id = ?"
)
_FAIL = (
    "UPDATE steps SET status = 'failed', error = ?, ended_at = ?, duration = ?, mac = ? "
    "WHERE id = ?"
)


def _usage(data: Any) -> tuple[int | None, float | None]:
    if isinstance(data, dict):
        usage = data.get("usage")
        if isinstance(usage, dict):
            tokens, cost = usage.get("total_tokens"), usage.get("cost_usd")
            return (
                tokens if isinstance(tokens, int) else None,
                float(cost) if isinstance(cost, int | float) else None,
            )
    return None, None


class SessionJournal:
    """Records the steps of one session; on reopening, replays the recorded ones first."""

    def __init__(self, journal: Journal, run_id: str, number: int) -> None:
        self.journal = journal
        self.run_id = run_id
        self.number = number
        self.last_seq = 0
        self._seq = 0
        self.resumed_in_flight = False
        """True inside the ``fn`` of a step that was in flight when the last process died
        (its request may have been sent, and billed, without an answer recorded)."""
        rows = journal.execute(
            f"SELECT id, attempts, {ROW_COLUMNS} FROM steps "
            "WHERE run_id = ? AND session = ? AND gen = 0 ORDER BY seq",
            (run_id, number),
        ).fetchall()
        # Every recorded row is checked against the chain before any is used: a forged or
        # reordered one stops the session here (JournalForged), before anything is written.
        chain = journal.chain
        link = chain.seed(run_id, number)
        self._links: dict[int, bytes] = {0: link}
        recorded: list[_Recorded] = []
        for row in rows:
            link = check_row(chain, link, run_id, number, row[2:], str(journal.path))
            seq = row[2]
            self._links[seq] = link
            recorded.append((seq, row[3], row[4], row[7], row[8], row[9], row[10], row[1], row[0]))
        self._recorded: dict[int, _Recorded] = {row[0]: row for row in recorded}
        self._replaying = bool(self._recorded)
        self._replay_end = max(self._recorded, default=0)

    @property
    def replaying(self) -> bool:
        """True while recorded steps remain to be replayed."""
        return self._replaying and self._seq < self._replay_end

    @property
    def seq(self) -> int:
        """The seq of the step in flight (inside its ``fn``), else of the last step begun."""
        return self._seq

    def skip_nested(self, through: int) -> None:
        """Go past the nested steps of a step just replayed, up to seq `through` (a code-mode
        program's tool calls: its recorded result already holds what they did)."""
        self._seq = max(self._seq, through)

    def ref(self, seq: int) -> str:
        """The evidence reference of a step: ``journal:<journal-id>/<run>/<session>/<seq>``."""
        return f"journal:{self.journal.id}/{self.run_id}/{self.number}/{seq}"

    def close(self, outcome: str, summary: dict[str, Any]) -> None:
        journal = self.journal
        with journal.write_lock:
            journal.execute(
                "UPDATE sessions SET status = 'closed', outcome = ?, summary = ?, ended_at = ? "
                "WHERE run_id = ? AND number = ?",
                (outcome, journal.dump(summary), time.time(), self.run_id, self.number),
            )
        if journal.events.active:
            journal.events.emit(
                events.Event(
                    "session.ended",
                    self.run_id,
                    self.number,
                    status=outcome,
                    data=json.loads(journal.dump(summary)),
                )
            )

    # -- the door ------------------------------------------------------------------------
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
        """Run ``fn`` as step ``kind``/``name`` once, durably.

        Args:
            inputs: JSON-able description of what the step does (digested, stored redacted).
            fn: the work; not called when the step is replayed, cached or recovered.
            cache: reuse a recorded output of the same kind, name, inputs and version.
            idempotent: False for steps that must not happen twice (commit, append).
            recover: for non-idempotent steps interrupted mid-flight: returns the output if
                the world shows the effect happened, else None (then ``fn`` runs again).
            output: the type to rebuild a replayed output into (pydantic TypeAdapter).
        Returns:
            ``fn()``'s value live; the recorded value, validated into ``output``, on replay.
        """
        found, value, live = self._begin(kind, name, inputs, cache, idempotent, version, output)
        if found:
            return value  # type: ignore[no-any-return]
        assert live is not None
        if recover is not None and not idempotent and live.seq in self._recorded:
            recovered = recover()
            if recovered is not None:
                return self._end(live, recovered)
        try:
            result = fn()
        except IN_FLIGHT as waiting:
            self._note(live, waiting)
            detail = f"{type(waiting).__name__}: {waiting}"
            self._tell(
                "step.waiting", live, duration_s=time.perf_counter() - live.t0, detail=detail
            )
            raise  # left in flight: the next run runs this step again
        except Exception as error:
            self._fail(live, error)
            raise
        return self._end(live, result)

    # -- internals -----------------------------------------------------------------------
    def _begin(
        self,
        kind: str,
        name: str,
        inputs: Any,
        cache: bool,
        idempotent: bool,
        version: str,
        output: type[Any] | None,
    ) -> tuple[bool, Any, _Live | None]:
        """(True, value, None) if replayed or cached, else (False, None, the live step)."""
        seq = self._seq + 1
        self._seq = seq
        self.resumed_in_flight = False
        journal = self.journal
        if self._replaying:
            rec = self._recorded.get(seq)
            if rec is not None and (rec[1] != kind or rec[2] != name):
                self._diverge(seq, rec, kind, name)
                rec = None
            if rec is None:
                self._replaying = False
            elif rec[3] == "ended":
                self.last_seq = seq
                data = journal.load(rec[4], rec[5])
                return (
                    True,
                    data if output is None else _adapter(output).validate_python(data),
                    None,
                )
            elif rec[3] == "failed" and not (seq == self._replay_end and _rerun(rec)):
                self.last_seq = seq
                raise decode_error(rec[6] or "{}")
            else:  # in flight when the last process died (or a model step failed): again
                self.resumed_in_flight = rec[3] == "started"
                # Steps recorded after it are its nested steps (a code-mode program's
                # tool calls): they replay while it runs again.
                self._replaying = seq < self._replay_end
                text = encode(inputs, journal.redactor)
                with journal.write_lock:
                    journal.execute(
                        # In flight again (a failed model step re-run too): no result yet,
                        # so no stale error (its MAC would not match the new result).
                        "UPDATE steps SET attempts = attempts + 1, started_at = ?, "
                        "status = 'started', error = NULL WHERE id = ?",
                        (time.time(), rec[8]),
                    )
                rerun = _Live(
                    rec[8],
                    seq,
                    kind,
                    name,
                    digest(text),
                    version,
                    cache,
                    time.perf_counter(),
                    self._links[seq],
                )
                self._tell("step.started", rerun, attempts=rec[7] + 1)
                return False, None, rerun
        text = encode(inputs, journal.redactor)
        input_digest = digest(text)
        mac = journal.chain.start(
            self._links[seq - 1], self.run_id, self.number, seq, kind, name, input_digest,
            int(idempotent),
        )  # fmt: skip
        self._links[seq] = mac
        if cache:
            hit = self._cache_lookup(seq, kind, name, input_digest, version, idempotent, mac)
            if hit is not None:
                data = journal.load(*hit)
                return (
                    True,
                    data if output is None else _adapter(output).validate_python(data),
                    None,
                )
        with journal.write_lock:
            inline, blob = journal.store(text)
            cursor = journal.execute(
                _INSERT,
                (
                    self.run_id,
                    self.number,
                    seq,
                    kind,
                    name,
                    input_digest,
                    inline,
                    blob,
                    int(idempotent),
                    time.time(),
                    mac,
                ),
            )
        row_id = cursor.lastrowid
        assert row_id is not None
        live = _Live(
            row_id, seq, kind, name, input_digest, version, cache, time.perf_counter(), mac
        )
        live.deferrable = idempotent and not cache and kind not in NEVER_DEFERRED
        self._tell("step.started", live)
        return False, None, live

    def _end(self, live: _Live, value: T) -> T:
        journal = self.journal
        text = encode(value, journal.redactor)
        tokens, cost = _usage(json.loads(text)) if '"usage"' in text else (None, None)
        now = time.time()
        duration = time.perf_counter() - live.t0
        chain = journal.chain
        with journal.write_lock:
            inline, blob = journal.store(text)
            mac = chain.end(live.mac, "ended", inline, blob, None, tokens, cost, 0)
            end = (inline, blob, now, duration, tokens, cost, mac, live.row_id)
            if live.deferrable and duration < DEFER_S:
                journal.defer(_END, end)  # committed with the next statement
            elif not live.cache:
                journal.execute(_END, end)
            else:
                key = (live.kind, live.name, live.input_digest, live.version)
                with journal.transaction():
                    journal.execute(_END, end)
                    journal.execute(
                        "INSERT OR REPLACE INTO cache (kind, name, input_digest, version, "
                        "output, output_blob, created_at, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (*key, inline, blob, now, chain.cache(*key, inline, blob)),
                    )
        self.last_seq = live.seq
        self._tell("step.ended", live, duration_s=duration, tokens=tokens, cost_usd=cost)
        return value

    def _tell(self, type_: events.EventType, live: _Live, **fields: Any) -> None:
        """Tell the run's observers (progress lines, `--json`) about a live step."""
        observers = self.journal.events
        if observers.active:
            status = type_.partition(".")[2]
            observers.emit(
                events.Event(
                    type_,
                    self.run_id,
                    self.number,
                    live.seq,
                    live.kind,
                    live.name,
                    status,
                    **fields,
                )
            )

    def _note(self, live: _Live, error: Exception) -> None:
        """Keep why a model step was left in flight (its attempts, statuses and delays) on its
        row; the status stays ``started``, so the next run runs it again."""
        if not isinstance(error, ModelError):
            return
        journal = self.journal
        text = encode_error(error, journal.redactor)
        try:
            with journal.write_lock:
                journal.execute("UPDATE steps SET error = ? WHERE id = ?", (text, live.row_id))
        except StorageError:
            pass  # a note only: the step stays in flight either way

    def _fail(self, live: _Live, error: Exception) -> None:
        journal = self.journal
        text = encode_error(error, journal.redactor)
        duration = time.perf_counter() - live.t0
        mac = journal.chain.end(live.mac, "failed", None, None, text, None, None, 0)
        with journal.write_lock:
            journal.execute(_FAIL, (text, time.time(), duration, mac, live.row_id))
        self.last_seq = live.seq
        message = str(journal.redactor.text(str(error)))[:300]
        self._tell(
            "step.failed", live, duration_s=duration, detail=f"{type(error).__name__}: {message}"
        )

    def _cache_lookup(
        self,
        seq: int,
        kind: str,
        name: str,
        input_digest: str,
        version: str,
        idempotent: bool,
        mac_start: bytes,
    ) -> tuple[str | None, str | None] | None:
        import hmac

        journal = self.journal
        chain = journal.chain
        row = journal.execute(
            "SELECT output, output_blob, mac FROM cache "
            "WHERE kind = ? AND name = ? AND input_digest = ? AND version = ?",
            (kind, name, input_digest, version),
        ).fetchone()
        if row is not None:
            expected = chain.cache(kind, name, input_digest, version, row[0], row[1])
            if row[2] is None or not hmac.compare_digest(bytes(row[2]), expected):
                from harness.errors import JournalForged

                raise JournalForged(
                    f"journal {journal.path}: the cache entry for {kind}/{name} (inputs "
                    f"{input_digest[:12]}, version {version}) does not match its MAC: it was "
                    "written outside harness, so it is not used and nothing was changed. Run "
                    "`harness journal verify`",
                    step=f"{self.run_id}/{self.number}/{seq}",
                )
        counter = "hits" if row is not None else "misses"
        now = time.time()
        with journal.write_lock, journal.transaction():
            journal.execute(
                f"INSERT INTO cache_stats (kind, name, {counter}) VALUES (?, ?, 1) "
                f"ON CONFLICT (kind, name) DO UPDATE SET {counter} = {counter} + 1",
                (kind, name),
            )
            if row is not None:
                journal.execute(
                    "UPDATE cache SET hits = hits + 1 WHERE kind = ? AND name = ? "
                    "AND input_digest = ? AND version = ?",
                    (kind, name, input_digest, version),
                )
                journal.execute(
                    "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, status, "
                    "output, output_blob, attempts, idempotent, started_at, ended_at, duration, "
                    "cached, mac_start, mac) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'ended', ?, ?, 1, ?, ?, ?, 0, 1, ?, ?)",
                    (
                        self.run_id,
                        self.number,
                        seq,
                        kind,
                        name,
                        input_digest,
                        row[0],
                        row[1],
                        int(idempotent),
                        now,
                        now,
                        mac_start,
                        chain.end(mac_start, "ended", row[0], row[1], None, None, None, 1),
                    ),
                )
        if row is None:
            return None
        self.last_seq = seq
        return row[0], row[1]

    def _diverge(self, seq: int, rec: _Recorded, kind: str, name: str) -> None:
        journal = self.journal
        chain = journal.chain
        with journal.write_lock, journal.transaction():
            # Each superseded row is signed as superseded, so it cannot be turned back.
            for row_id, start, output, blob, error, tokens, cost, cached in journal.execute(
                "SELECT id, mac_start, output, output_blob, error, tokens, cost_usd, cached "
                "FROM steps WHERE run_id = ? AND session = ? AND seq >= ? AND gen = 0",
                (self.run_id, self.number, seq),
            ).fetchall():
                mac = chain.end(
                    bytes(start or b""), "superseded", output, blob, error, tokens, cost, cached
                )
                journal.execute(
                    "UPDATE steps SET status = 'superseded', gen = id, mac = ? WHERE id = ?",
                    (mac, row_id),
                )
        count = sum(1 for s in self._recorded if s >= seq)
        message = (
            f"journal divergence in run {self.run_id} session {self.number} at step {seq}: "
            f"recorded {rec[1]}/{rec[2]}, the code asked for {kind}/{name}; replay stops here, "
            f"{count} recorded step(s) marked superseded, the session goes on live"
        )
        for s in [s for s in self._recorded if s >= seq]:
            del self._recorded[s]
        import logging  # only here: importing logging costs more than a restart should

        logging.getLogger("harness.journal").warning(message)
        warnings.warn(message, DivergenceWarning, stacklevel=4)
