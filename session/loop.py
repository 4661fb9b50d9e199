"""The agent loop: model turn, tool calls, results; every call a journaled step.

Tool calls go through the session's one door, `session.pipeline.ToolPipeline`.
The transcript is rebuilt from step outputs, so a resumed loop replays the recorded turns
and continues with exactly the transcript the crashed one had: an assistant message with
tool calls is always followed by all of their results before the next model call.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from harness import signals
from harness.errors import BudgetExhausted, ContextWindowExceeded, Parked
from harness.model import ModelResponse
from harness.redact import Redactor
from harness.tools import ToolRegistry
from session.compaction import TranscriptSize, compact, needs_compaction
from session.context import WorkContext
from session.effects import Result
from session.gating import consult, sample_signature
from session.pipeline import ToolPipeline

if TYPE_CHECKING:
    from harness.journal.protocol import StepJournal
    from harness.model import Accounting, Model

Message = dict[str, Any]
Ending = Literal["done", "stuck", "budget", "parked"]
"""How the agent loop ended."""
SessionEnding = Literal["passing", "done", "stuck", "budget", "parked", "complete"]
"""How a session ended: the loop's ending, "passing" when its feature was marked (and held
through the writeback's recheck), "complete" when no feature was left to work on."""
STUCK_REPEATS = 3
Round = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]
"""One round for the stuck detector: its calls (name, arguments), their (status, output)."""
# Said once per session to a model that answered in prose only, before the session ends.
NUDGE = (
    "[harness] Your last answer called no tool, so nothing happened. To go on, call a tool "
    "(read_file, write_file, run, verify_feature, mark_passing, ...). If the feature is done, "
    "verify it with verify_feature and mark it with mark_passing; if you are blocked, call "
    "no tool and say BLOCKED and why in one short paragraph: the session then ends."
)
# Tools whose success means the session changed or checked something (not an idle session).
CHANGERS = frozenset({"write_file", "edit_file", "run", "verify_feature", "mark_passing", "code"})


@dataclass
class Limits:
    """Per-session limits the loop enforces itself (tokens and dollars: the accounting)."""

    steps: int = 60
    wall_s: float | None = None
    context_window: int = 128_000
    compact_at: float = 0.8


@dataclass
class LoopOutcome:
    ending: Ending
    detail: str = ""
    final_text: str = ""
    steps: int = 0


@dataclass
class AgentLoop:
    journal: StepJournal
    model: Model
    model_name: str
    tools: ToolRegistry[WorkContext]
    ctx: WorkContext
    accounting: Accounting
    limits: Limits
    on_step: Any = None
    pipeline: ToolPipeline = field(init=False)
    satisfied: Any = None
    """() -> bool: the session's goal is met, so a prose-only answer ends it without a
    nudge (default: the session's feature was marked passing)."""
    changed: bool = False
    """A tool that changes or checks the project succeeded (see `CHANGERS`)."""
    redactor: Redactor = field(default_factory=Redactor)
    """What the model is sent passes through it: no secret reaches the model's context."""
    _steps: int = 0
    _rounds: deque[Round] = field(default_factory=lambda: deque(maxlen=STUCK_REPEATS))
    """The last rounds only (the stuck detector's window): a session's memory is bounded."""
    _nudged: bool = False
    _prepared: bool = False
    _request: tuple[list[Message], list[dict[str, Any]]] | None = None
    _size: TranscriptSize = field(default_factory=TranscriptSize)
    _schemas: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pipeline = ToolPipeline(self.journal, self.tools, self.ctx, on_step=self.on_step)
        self.ctx.door = self.pipeline

    def run(self, messages: list[Message]) -> LoopOutcome:
        if self.limits.wall_s:
            self._bound_wall(self.limits.wall_s)
        sent = 0
        while True:
            signals.stop_if_asked()  # a stop whose interrupt something swallowed: here
            if self._steps >= self.limits.steps:
                return self._end("budget", f"step limit {self.limits.steps} reached")
            if self._wall_passed():
                return self._end("budget", f"{self.ctx.wall_what} reached")
            try:
                self.accounting.check()
            except BudgetExhausted as exc:
                return self._end("budget", str(exc))
            window, at = self.limits.context_window, self.limits.compact_at
            if needs_compaction(messages, window, at, self._size):
                compacted = compact(messages, self.ctx)
                # Nothing old enough to fold (one huge recent message): the transcript is
                # as sent; redacting and journaling it all again each turn bought nothing.
                if compacted is not messages:
                    messages[:] = compacted
                    self._size.changed(0)
                    sent = 0
            try:
                self._size.changed(sent)  # the new messages are redacted (replaced) now
                response = self._complete(messages, sent)
            except ContextWindowExceeded:
                messages[:] = compact(messages, self.ctx, force=True)
                self._size.changed(0)
                sent = 0
                continue
            except BudgetExhausted as exc:  # the gateway's own check: the session still ends
                return self._end("budget", str(exc))  # with its writeback
            sent = len(messages)
            messages.append(response.message())
            try:
                advice = self._consider(response)
            except Parked as exc:
                return self._end("parked", str(exc))
            if advice is not None:
                messages.extend(_answer_tool_calls(response, "not run: a human was consulted"))
                messages.append({"role": "user", "content": advice})
                continue
            if not response.tool_calls:
                if not self._nudged and not self._goal_met():
                    self._nudged = True  # one nudge, then a prose-only answer ends it
                    messages.append({"role": "user", "content": NUDGE})
                    continue
                return self._end("done", final_text=response.content or "")
            results = []
            for index, call in enumerate(response.tool_calls):
                limit = self._call_limit()
                if limit is not None:
                    # One answer may hold thousands of calls: the limits count each, so
                    # the rest are answered unrun (the transcript stays valid) and it ends.
                    what, which = limit
                    left = response.model_copy(update={"tool_calls": response.tool_calls[index:]})
                    messages.extend(_answer_tool_calls(left, f"not run: the {what} was reached"))
                    unrun = len(response.tool_calls) - index
                    return self._end("budget", f"{which} reached ({unrun} call(s) not run)")
                signals.stop_if_asked()
                try:
                    result = self.pipeline.call(call.id, call.name, call.arguments)
                except Parked as exc:
                    return self._end("parked", str(exc))
                self._tick()
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result.output})
                results.append(result)
                if result.status == "ok" and call.name in CHANGERS:
                    self.changed = True
            if self._is_stuck(response, results):
                return self._end(
                    "stuck",
                    f"the same {len(response.tool_calls)} call(s) gave the same result "
                    f"{STUCK_REPEATS} times in a row",
                )

    def _complete(self, messages: list[Message], sent: int) -> ModelResponse:

        # Everything new since the last call (the brief, tool output, notices) is redacted
        # here, the one door to the model, the same way the journal redacts what it keeps.
        messages[sent:] = self.redactor.structure(messages[sent:])
        snapshot = list(messages)
        schemas = self._schemas or self.tools.schemas()
        self._schemas = schemas  # the tools do not change during a session

        if not self.journal.replaying:
            self._prepare()  # before the step's clock starts (a replayed call needs none)

        def call() -> ModelResponse:
            self._prepare()  # a recorded step run again (in flight at a crash, a fault)
            lost = None
            if self.journal.resumed_in_flight:
                # The request was in flight at a crash: the provider may have billed it.
                lost = self.model.estimate(snapshot, schemas)
            response = self.model.complete(snapshot, schemas)
            if lost is not None:
                response = response.model_copy(update={"estimated_usage": lost})
            return response

        response = self.journal.step(
            "llm",
            self.model_name,
            {"new_messages": snapshot[sent:], "message_count": len(snapshot)},
            call,
            output=ModelResponse,
        )
        self._tick()
        self.accounting.add(response.usage, estimated=response.estimated_usage)
        self._request = (snapshot, schemas)

        self.ctx.trace.turn([(c.name, c.arguments) for c in response.tool_calls])
        return response

    def _prepare(self) -> None:
        """The model's slow set-up (litellm's import, 2-3 s), once, when its first live
        call comes: a resume replays its recorded turns without paying it."""
        if not self._prepared:
            self.model.prepare()
            self._prepared = True

    def _goal_met(self) -> bool:
        if self.satisfied is not None:
            return bool(self.satisfied())
        feature = self.ctx.feature
        return feature is None or feature.id in self.ctx.marked

    def _consider(self, response: ModelResponse) -> str | None:
        """The escalation matrix on the model's reasoning; above the threshold, a human
        is consulted and their answer returned (Parked while it is awaited)."""

        if self.ctx.gates is None or not (response.content or "").strip():
            return None
        samples = self._samples(response, self.ctx.gates.samples)
        return consult(self.ctx.gates, self.ctx, self.journal, response, samples)

    def _samples(self, response: ModelResponse, count: int) -> list[str]:
        """With ``[escalation] samples = N`` >= 2: N - 1 more completions of the same
        request (journaled, paid and counted like any model call; stopped by the budgets),
        as signatures for the matrix's disagreement: the first answer's is the first."""

        if count < 2 or self._request is None:
            return []
        snapshot, schemas = self._request
        found = [sample_signature(response)]
        for index in range(1, count):
            try:
                self.accounting.check()
            except BudgetExhausted:
                break
            sample = self.journal.step(
                "llm",
                f"{self.model_name}:sample",
                {"sample": index, "message_count": len(snapshot)},
                lambda: self.model.complete(snapshot, schemas),
                output=ModelResponse,
            )
            self._tick()
            self.accounting.add(sample.usage, estimated=sample.estimated_usage)
            found.append(sample_signature(sample))
        return found

    def _tick(self) -> None:
        self._steps += 1

    def _call_limit(self) -> tuple[str, str] | None:
        """The limit that stops the next tool call of an answer (its kind and which one,
        in words), or None."""
        if self._steps >= self.limits.steps:
            return "step limit", f"step limit {self.limits.steps}"
        if self._wall_passed():
            return "wall-time limit", self.ctx.wall_what
        return None

    def _bound_wall(self, seconds: float) -> None:
        """The session's own wall-time limit, from now, when it ends before the run's."""
        at = time.monotonic() + seconds
        if self.ctx.wall is None or at < self.ctx.wall:
            self.ctx.wall = at
            self.ctx.wall_what = f"session wall-time limit {seconds:g}s"

    def _wall_passed(self) -> bool:
        return self.ctx.wall is not None and time.monotonic() >= self.ctx.wall

    def _is_stuck(self, response: ModelResponse, results: list[Result]) -> bool:
        calls = tuple((c.name, c.arguments) for c in response.tool_calls)
        outputs = tuple((r.status, r.output) for r in results)
        self._rounds.append((calls, outputs))  # compared as values: no JSON text per step
        return len(self._rounds) == STUCK_REPEATS and len(set(self._rounds)) == 1

    def _end(self, ending: Ending, detail: str = "", final_text: str = "") -> LoopOutcome:
        return LoopOutcome(ending, detail=detail, final_text=final_text, steps=self._steps)


def _answer_tool_calls(response: ModelResponse, text: str) -> list[Message]:
    """Results for tool calls that were not run, so the transcript stays valid."""
    return [
        {"role": "tool", "tool_call_id": call.id, "content": text} for call in response.tool_calls
    ]
