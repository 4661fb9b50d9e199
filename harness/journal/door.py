"""The step door: every step of a session goes through :meth:`StepDoor.step`.

What a step decides, written once for every backend (the store only keeps rows):

- **record**: a ``started`` row before the work, an ``ended`` or ``failed`` row after;
- **replay**: a recorded end returns its output without running; a recorded failure that
  is a decision (``Disposition.replay``) or that the session went on from is raised again;
- **re-run**: a step in flight when the last process died runs again (attempts counted),
  and so does a failure that ended the record and was not a decision (a git, storage,
  memory or model fault may not recur); an error whose disposition says "in flight" leaves
  the step so (``Parked``, ``StorageError``, ...), for the next run to run again;
- **recover**: a non-idempotent step found in flight asks the world first (``recover``);
- **divergence**: the code asks for another kind or name than recorded at this seq: the
  rest of the session's record is superseded (kept, signed as such) and it goes on live;
  a step newer code adds asks :meth:`StepDoor.recorded_next` first, and where the record
  goes on without it (a session recorded by an older harness) does its work unrecorded,
  so the replay goes on matching the recorded steps;
- **digest check**: a model step's inputs are compared with those recorded; a resume whose
  transcript differs is said (``TranscriptChanged``), and a request in flight is sent
  again as a new row, never under the old one's inputs;
- **cache**: an opt-in step reuses a recorded output of the same kind, name, inputs and
  version (checked against its MAC);
- **chain**: every row is checked before any is used, and every new row is signed.
"""

from __future__ import annotations

import hmac
import json
import logging  # only here: importing logging costs more than a restart should
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_core import ValidationError, from_json

from harness import signals
from harness.errors import JournalError, JournalForged, StorageError, disposition
from harness.events import Event
from harness.journal.chain import check
from harness.journal.codec import decode_error, digest, encode, encode_error
from harness.journal.records import Begin, CacheEntry, CacheKey, End, Recorded, Result, row

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from harness import events
    from harness.journal.journal import Journal

T = TypeVar("T")

# The end of an idempotent step quicker than this rides with the next write, in one
# transaction (a step then costs one commit, not two). Lost in a crash, the step looks in
# flight and runs again, which costs less than the commit saved. Never for the steps that
# cost money or a person's time to run again.
DEFER_S = 0.002
NEVER_DEFERRED = frozenset({"llm", "human"})
# Kinds whose inputs are compared on replay: a model step's inputs are its transcript.
DIGESTED = frozenset({"llm"})
SHORT = 4096  # characters: a text this short is kept inline without asking (journal.keep)


class DivergenceWarning(UserWarning):
    """The code asked for a different step than the one recorded at this position."""


class TranscriptChanged(DivergenceWarning):
    """A model step's inputs differ from the ones recorded: the transcript changed."""


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    """A cached TypeAdapter (building one costs far more than a replayed step)."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        from pydantic import TypeAdapter  # noqa: PLC0415  lazy: pydantic is slow to import

        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


class _Live:
    """A step that runs now: its row, timing and cache key."""

    __slots__ = ("cache", "deferrable", "digest", "kind", "mac", "name", "row_id", "seq", "t0",
                 "version")  # fmt: skip

    def __init__(self, row_id: int, seq: int, kind: str, name: str, digest: str, mac: bytes,
                 version: str, cache: bool) -> None:  # fmt: skip
        self.row_id, self.seq, self.kind, self.name = row_id, seq, kind, name
        self.digest, self.mac, self.version, self.cache = digest, mac, version, cache
        self.t0 = 0.0  # set when its work starts
        self.deferrable = False  # may its end ride with the next write (DEFER_S)?


def _parsed(text: str | None, output: Any) -> Any:
    """A recorded inline output read straight into ``output`` (pydantic parses the JSON
    text: a replayed step's json.loads and validation were a tenth of a long replay);
    None when it holds a large string's blob reference or does not read so (the general
    path, `Journal.load` then validation, says what is wrong)."""
    if text is None or '"$blob"' in text:
        return None
    try:
        return _adapter(output).validate_json(text)
    except ValidationError:
        return None


def _usage(text: str, value: object = None) -> tuple[int | None, float | None]:
    """(tokens, dollars) of an output that reports its ``usage`` (every model step's): told
    by the value itself when it can (``journal_usage()``, a model's answer: what its text
    says, without parsing it again each step), else read from the text by pydantic's JSON
    parser: half the CPU of ``json.loads`` on a model's answer (what it cannot read,
    ``json.loads`` reads, or says why not, as before)."""
    if '"usage"' not in text:
        return None, None
    told = getattr(value, "journal_usage", None)
    if told is not None:
        return told()  # type: ignore[no-any-return]
    try:
        data = from_json(text)
    except ValueError:
        data = json.loads(text)
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None, None
    tokens, cost = usage.get("total_tokens"), usage.get("cost_usd")
    return (
        tokens if isinstance(tokens, int) else None,
        float(cost) if isinstance(cost, int | float) else None,
    )


class StepDoor:
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
        # Every recorded row is checked against the chain before any is used: a forged or
        # reordered one stops the session here (JournalForged), before anything is written.
        chain = journal.chain
        link = chain.seed(run_id, number)
        self._links: dict[int, bytes] = {0: link}
        recorded = journal.load_session(run_id, number)
        for rec in recorded:
            link = check(chain, link, run_id, number, rec, journal.where)
            self._links[rec.seq] = link
        self._recorded: dict[int, Recorded] = {rec.seq: rec for rec in recorded}
        self._replaying = bool(self._recorded)
        self._replay_end = max(self._recorded, default=0)

    @property
    def replaying(self) -> bool:
        """True while recorded steps remain to be replayed."""
        return self._replaying and self._seq < self._replay_end

    @property
    def recorded(self) -> int:
        """How many recorded steps the session opened with (to replay)."""
        return len(self._recorded)

    @property
    def seq(self) -> int:
        """The seq of the step in flight (inside its ``fn``), else of the last step begun."""
        return self._seq

    def recorded_next(self) -> tuple[str, str] | None:
        """(kind, name) of the recorded step the replay expects next; None when the session
        goes on live (nothing recorded there)."""
        rec = self._recorded.get(self._seq + 1) if self.replaying else None
        return None if rec is None else (rec.kind, rec.name)

    def skip_nested(self, through: int) -> None:
        """Go past the nested steps of a step just replayed, up to seq ``through`` (a code-mode
        program's tool calls: its recorded result already holds what they did)."""
        self._seq = max(self._seq, through)

    def ref(self, seq: int) -> str:
        """The evidence reference of a step: ``journal:<journal-id>/<run>/<session>/<seq>``."""
        return f"journal:{self.journal.id}/{self.run_id}/{self.number}/{seq}"

    def close(self, outcome: str, summary: dict[str, Any]) -> None:
        self.journal.close_session(self.run_id, self.number, outcome, summary)

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
        seq = self._seq = self._seq + 1
        self.resumed_in_flight = False
        text: str | None = None
        lost = False  # a request in flight superseded because its transcript changed
        rec = self._recorded.get(seq) if self._replaying else None
        if rec is not None and (rec.kind != kind or rec.name != name):
            self._diverge(seq, f"recorded {rec.kind}/{rec.name}, the code asked for {kind}/{name}")
            rec = None
        if rec is not None and kind in DIGESTED:
            text = encode(inputs, self.journal.redactor)
            if digest(text) != rec.input_digest:
                lost = rec.status == "started"
                rec = self._transcript_changed(seq, rec, digest(text))
        if rec is None:
            self._replaying = False
            found, value, live = self._begin(seq, kind, name, inputs, text, cache, idempotent,
                                             version)  # fmt: skip
            if found:
                return value if output is None else _adapter(output).validate_python(value)  # type: ignore[no-any-return]
            self.resumed_in_flight = lost
        elif (done := rec.result).status == "ended":
            self.last_seq = seq
            if output is not None and (value := _parsed(done.output, output)) is not None:
                return value  # type: ignore[no-any-return]
            data = self.journal.load(done.output, done.output_blob)
            return data if output is None else _adapter(output).validate_python(data)  # type: ignore[no-any-return]
        elif done.status == "failed" and self._replays_failure(rec):
            self.last_seq = seq
            raise decode_error(rec.result.error or "{}")
        else:  # in flight when the last process died, or a failure to try again
            live = self._again(rec, version, cache)
            if recover is not None and not idempotent:
                recovered = recover()
                if recovered is not None:
                    return self._end(live, recovered)
        if self.journal.hook is not None:
            fn = self.journal.hook(kind, name, fn)
        try:
            result = fn()
        except Exception as error:
            # Failed while a signal stops the process: the error may be that very stop,
            # turned into another exception on its way up; the step runs again on resume.
            stopping = signals.stop_asked() is not None
            if stopping or disposition(error).in_flight:
                self._left_in_flight(live, error)
            else:
                self._fail(live, error)
            signals.stop_if_asked(error)
            raise
        return self._end(live, result)

    # -- replay decisions ------------------------------------------------------------------
    def _replays_failure(self, rec: Recorded) -> bool:
        """A recorded failure is raised again when it was a decision (a spent budget, a
        compaction signal) or the session went on from it; a failure that ended the record
        and was not a decision (git, storage, memory, a model fault, a bug) runs again."""
        if rec.seq != self._replay_end:
            return True
        return disposition(decode_error(rec.result.error or "{}")).replay

    def _again(self, rec: Recorded, version: str, cache: bool) -> _Live:
        """Run a recorded step again on its row: in flight at a crash, or a failure retried."""
        self.resumed_in_flight = rec.status == "started"
        # Steps recorded after it are its nested steps (a code-mode program's tool calls):
        # they replay while it runs again.
        self._replaying = rec.seq < self._replay_end
        with self.journal.writing():
            self.journal.store.restart(rec.row_id, time.time())
        live = _Live(rec.row_id, rec.seq, rec.kind, rec.name, rec.input_digest,
                     self._links[rec.seq], version, cache)  # fmt: skip
        live.t0 = time.perf_counter()
        if self.journal.observed():
            self._tell("step.started", live, attempts=rec.attempts + 1)
        return live

    def _transcript_changed(self, seq: int, rec: Recorded, now: str) -> Recorded | None:
        """A model step whose inputs differ from the recorded ones: say it. An answer
        recorded is replayed (paid for, and what the session went on from); a request in
        flight is superseded and sent again as a new row, never under the old inputs."""
        what = (
            f"journal: run {self.run_id} session {self.number} step {seq} ({rec.kind}/"
            f"{rec.name}): its inputs differ from the ones recorded (digest {rec.input_digest[:12]}"
            f", now {now[:12]}): the transcript this resume builds is not the one recorded"
        )
        if rec.status != "started":
            self._warn(what + "; the recorded answer is replayed", TranscriptChanged)
            return rec
        self._diverge(seq, what + "; the request in flight is superseded and sent again",
                      TranscriptChanged)  # fmt: skip
        return None

    # -- live steps -------------------------------------------------------------------------
    def _begin(
        self, seq: int, kind: str, name: str, inputs: Any, text: str | None, cache: bool,
        idempotent: bool, version: str,
    ) -> tuple[bool, Any, _Live]:  # fmt: skip
        """(True, value, live) on a cache hit, else (False, None, the live step)."""
        journal = self.journal
        if text is None:
            text = encode(inputs, journal.redactor)
        input_digest = digest(text)
        mac = journal.chain.start(self._links[seq - 1], self.run_id, self.number, seq, kind,
                                  name, input_digest, int(idempotent))  # fmt: skip
        self._links[seq] = mac
        live = _Live(0, seq, kind, name, input_digest, mac, version, cache)
        if cache:
            hit = self._cache_lookup(live, idempotent)
            if hit is not None:
                self.last_seq = seq
                return True, journal.load(hit.output, hit.output_blob), live
        inline, blob = (text, None) if len(text) <= SHORT else journal.keep(text)
        begin = row(Begin, (self.run_id, self.number, seq, kind, name, input_digest, inline,
                            blob, int(idempotent), time.time(), mac))  # fmt: skip
        live.row_id = journal.begin(begin)
        live.t0 = time.perf_counter()  # the work's time, not the write's
        live.deferrable = idempotent and not cache and kind not in NEVER_DEFERRED
        if self.journal.observed():
            self._tell("step.started", live)
        return False, None, live

    def _end(self, live: _Live, value: T) -> T:
        journal = self.journal
        text = encode(value, journal.redactor)
        tokens, cost = _usage(text, value)
        duration = time.perf_counter() - live.t0
        inline, blob = (text, None) if len(text) <= SHORT else journal.keep(text)
        result = row(Result, ("ended", inline, blob, None, tokens, cost, False))
        end = row(End, (result, time.time(), duration, journal.chain.result(live.mac, result)))
        if live.deferrable and duration < DEFER_S and journal.store.lazy_ends:
            journal.defer(live.row_id, end)  # written with the next write
            self.last_seq = live.seq
            if self.journal.observed():
                self._tell("step.ended", live, duration_s=duration, tokens=tokens, cost_usd=cost)
            return value
        with journal.writing():
            if not live.cache:
                journal.store.end(live.row_id, end)
            else:
                key = CacheKey(live.kind, live.name, live.digest, live.version)
                entry = CacheEntry(inline, blob, journal.chain.entry(key, inline, blob))
                with journal.store.batch():
                    journal.store.end(live.row_id, end)
                    journal.store.cache_put(key, entry, end.ended_at)
        self.last_seq = live.seq
        if self.journal.observed():
            self._tell("step.ended", live, duration_s=duration, tokens=tokens, cost_usd=cost)
        return value

    def _left_in_flight(self, live: _Live, error: Exception) -> None:
        """Keep why the step waits on its row (its status stays ``started``): the next run
        runs it again."""

        journal = self.journal
        try:
            with journal.writing():
                journal.store.note(live.row_id, encode_error(error, journal.redactor))
        except (StorageError, JournalError):
            pass  # a note only: the step stays in flight either way
        detail = f"{type(error).__name__}: {error}"
        if self.journal.observed():
            self._tell("step.waiting", live, duration_s=time.perf_counter() - live.t0,
                       detail=str(journal.redactor.text(detail))[:300])  # fmt: skip

    def _fail(self, live: _Live, error: Exception) -> None:
        journal = self.journal
        text = encode_error(error, journal.redactor)
        duration = time.perf_counter() - live.t0
        result = Result("failed", error=text)
        end = End(result, time.time(), duration, journal.chain.result(live.mac, result))
        with journal.writing():
            journal.store.end(live.row_id, end)
        self.last_seq = live.seq
        message = str(journal.redactor.text(str(error)))[:300]
        if self.journal.observed():
            self._tell("step.failed", live, duration_s=duration,
                       detail=f"{type(error).__name__}: {message}")  # fmt: skip

    def _cache_lookup(self, live: _Live, idempotent: bool) -> CacheEntry | None:
        journal = self.journal
        chain = journal.chain
        key = CacheKey(live.kind, live.name, live.digest, live.version)
        with journal.writing():
            entry = journal.store.cache_get(key)
            if entry is not None:
                expected = chain.entry(key, entry.output, entry.output_blob)

                if entry.mac is None or not hmac.compare_digest(entry.mac, expected):
                    raise JournalForged(
                        f"journal {journal.where}: the cache entry for {key.kind}/{key.name} "
                        f"(inputs {key.input_digest[:12]}, version {key.version}) does not match "
                        "its MAC: it was written outside harness, so it is not used and nothing "
                        "was changed. Run `harness journal verify`",
                        step=f"{self.run_id}/{self.number}/{live.seq}",
                    )
            with journal.store.batch():
                journal.store.cache_count(key, entry is not None)
                if entry is not None:
                    now = time.time()
                    begin = Begin(self.run_id, self.number, live.seq, live.kind,
                                  live.name, live.digest, None, None, int(idempotent), now,
                                  live.mac)  # fmt: skip
                    result = Result("ended", entry.output, entry.output_blob, cached=True)
                    end = End(result, now, 0.0, chain.result(live.mac, result))
                    journal.store.begin(begin, end)
        return entry

    def _diverge(self, seq: int, what: str, category: type[Warning] = DivergenceWarning) -> None:
        """Supersede the recorded steps from ``seq`` on (each signed as superseded, so it
        cannot be turned back) and go on live."""
        chain = self.journal.chain
        later = sorted(s for s in self._recorded if s >= seq)
        marks = []
        for s in later:
            rec = self._recorded.pop(s)
            marks.append(
                (rec.row_id, chain.result(rec.mac_start or b"", rec.result.as_superseded()))
            )
        with self.journal.writing(), self.journal.store.batch():
            self.journal.store.supersede(marks)
        self._replay_end = max(self._recorded, default=0)
        if category is DivergenceWarning:
            what = (
                f"journal divergence in run {self.run_id} session {self.number} at step {seq}: "
                f"{what}; replay stops here, {len(later)} recorded step(s) marked superseded, "
                "the session goes on live"
            )
        self._warn(what, category)

    def _warn(self, message: str, category: type[Warning]) -> None:

        logging.getLogger("harness.journal").warning(message)
        warnings.warn(message, category, stacklevel=5)

    def _tell(self, type_: events.EventType, live: _Live, **fields: Any) -> None:
        """Tell the run's observers (progress lines, ``--json``) about a live step (the
        callers ask ``journal.observed()`` first: nothing is built when nobody listens)."""

        status = type_.partition(".")[2]
        self.journal.emit(Event(type_, self.run_id, self.number, live.seq, live.kind, live.name,
                                status, **fields))  # fmt: skip
