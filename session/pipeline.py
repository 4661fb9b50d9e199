"""The one door of every tool call, from the agent loop and from code mode alike.

    journal step → gates → protection of the harness's files → the tool → its effects

1. **journal step** (kind "tool", named after the tool): replayed calls return their
   recorded result without running; a live one runs the rest inside the step.
2. **gates** (`session.gating`, when a human is configured): go ahead, refuse, or park
   (Parked leaves the step in flight); a human's approval is passed on to the tool as an
   argument (`approved_by`), never through shared state.
3. **protection** (`session.sentinel`): feature_list.json changed by anything but a guarded
   write of the tool itself is put back, and the model is told.
4. **the tool** (`ToolRegistry.invoke`): its exceptions become results the model reads.
5. **effects** (`session.effects`): typed values the session applies (`WorkContext.apply`),
   live and on replay alike.

A program of code mode is one step whose tool calls are steps of their own, made through
this same door (`call_nested`); their effects apply as they happen, and again when the
program's finished step is replayed (its result carries them).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from harness.tools import ToolRegistry, ToolResult
from session.context import WorkContext
from session.effects import GUARDED_WRITES, FileWritten, Marked, ProgramRan, Result, stamp
from session.gating import apply_gates
from session.sentinel import NOTICE, Sentinel
from session.tools.files import WRITERS, apply_write

if TYPE_CHECKING:
    from harness.journal.protocol import StepJournal


class ToolPipeline:
    """Runs the tool calls of one session; owns the feature list's sentinel."""

    def __init__(
        self,
        journal: StepJournal,
        tools: ToolRegistry[WorkContext],
        ctx: WorkContext,
        *,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.journal = journal
        self.tools = tools
        self.ctx = ctx
        self.on_step = on_step  # a crash switch fires here, with the call's step in flight
        self.sentinel = Sentinel(ctx.root)
        self.restored = 0  # times the sentinel put the file back (nested calls count too)
        self.lived = False  # a live call ran in this process
        self.found = self.sentinel.on_disk()  # the file as this process found it

    def call(self, call_id: str, name: str, arguments: str) -> Result:
        """A call the model made, with its raw JSON arguments.

        A name that is not a tool's is refused here, before anything is journaled or
        told: it is the agent's text (it may be a secret it read), and a step is named
        after its tool. The refusal does nothing, so it needs no step: a resume refuses
        the same call again, the same way.
        """
        if name not in self.tools:
            refused = self.tools.parse(name, "{}")
            assert isinstance(refused, ToolResult)
            return refused
        inputs = {"id": call_id, "arguments": arguments}
        return self._step(name, inputs, lambda: self.tools.parse(name, arguments))

    def call_nested(self, name: str, args: BaseModel, *, via: str) -> Result:
        """A call a program made (`via` the tool that runs it), arguments validated."""
        inputs = {"arguments": args.model_dump(mode="json", by_alias=True), "via": via}
        return self._step(name, inputs, lambda: args)

    def step_ref(self) -> str:
        """The journal reference of the step in flight (a question's durable key)."""
        return self.journal.ref(self.journal.seq)

    def _step(self, name: str, inputs: dict[str, Any], parse: Callable[[], Any]) -> Result:
        ran = False

        def live() -> Result:
            nonlocal ran
            ran = True
            own = self.journal.seq
            result = self._live(name, parse())
            if self.journal.seq > own:  # steps of its own (a program's calls, proofs)
                result = result.model_copy(update={"through": self.journal.seq})
            return result

        # A file tool's step is recorded at once (never with the next write), and its
        # bytes written after: a resumed step answers as the first attempt did.
        writes = name in WRITERS
        result: Result = self.journal.step(
            "tool", name, inputs, live, idempotent=not writes, output=Result
        )
        if writes and (ran or not self.journal.replaying):
            self._write(result, None if ran else lambda: self._redo(name, parse()))
        effects = stamp(result.effects, self.journal.ref(self.journal.last_seq))
        tool = self.tools.get(name)
        nested = tool is not None and tool.nested
        if not ran:
            # Replayed: a mark is applied again to what the sentinel knows (the file is
            # taken only when it is what the mark made). Nothing else is taken as known:
            # a change made before the kill or while the session replays is put back at
            # its next live call.
            effects = self._replay_writes(effects)
            if result.through:
                self.journal.skip_nested(result.through)
            elif nested:
                self._skip_nested(effects)  # a record made before `through` existed
        if not (ran and nested):  # a live program's calls applied their effects as they ran
            for effect in effects:
                self.ctx.apply(effect)
        if len(effects) == len(result.effects) and all(map(operator.is_, effects, result.effects)):
            return result  # the same effects (most calls): no copy of the result
        return result.model_copy(update={"effects": effects})

    def _replay_writes(self, effects: list[Any]) -> list[Any]:
        """The replayed effects, a mark's evidence as the file holds it where the recorded
        one is its redaction (the journal keeps no secret: a check command holding one)."""
        replayed = []
        for effect in effects:
            if isinstance(effect, Marked) and effect.evidence is not None:
                evidence = self.sentinel.replay_mark(effect.feature, effect.evidence)
                effect = effect.model_copy(update={"evidence": evidence})
            elif isinstance(effect, GUARDED_WRITES):
                self.sentinel.accept()  # the initializer's list, or a mark recorded bare
            replayed.append(effect)
        return replayed

    def _write(self, result: Result, redo: Callable[[], Any] | None) -> None:
        """Write the bytes a recorded file tool step decided (live, or the session's last
        recorded step on resume, whose write may not have been made)."""
        for effect in result.effects:
            if isinstance(effect, FileWritten):
                apply_write(self.ctx, effect, redo)

    def _redo(self, name: str, parsed: BaseModel | ToolResult[Any]) -> Any:
        """Decide a recorded file tool call's bytes again (its answer is the recorded one)."""
        if not isinstance(parsed, ToolResult):  # arguments refused: nothing was decided
            self.tools.invoke(name, parsed, self.ctx)

    def _skip_nested(self, effects: list[Any]) -> None:
        """A replayed program: its calls' steps follow it in the journal; go past them."""
        seqs = [
            int(call.ref.rsplit("/", 1)[1])
            for effect in effects
            if isinstance(effect, ProgramRan)
            for call in effect.calls
        ]
        if seqs:
            self.journal.skip_nested(max(seqs))

    def _live(self, name: str, parsed: BaseModel | ToolResult[Any]) -> Result:
        if self.on_step is not None:
            self.on_step()
        before = self.restored
        if self.lived or self.sentinel.on_disk() != self.found:
            self._restore()  # changed since the last step (a background job)
        else:
            # The first live call, the file as this process found it: in a resumed session
            # what the process a kill stopped left (its own write in flight, or the call in
            # flight, which runs again now). Put back unannounced: the uninterrupted run
            # told the model nothing of it.
            self.sentinel.restore()
        self.lived = True
        if isinstance(parsed, ToolResult):
            result: Result = parsed  # the arguments were refused
        else:
            result = self._gated(name, parsed)
            if any(isinstance(e, GUARDED_WRITES) for e in result.effects):
                self.sentinel.accept()
        self._restore()
        if self.restored > before:  # by this call or one of its nested calls
            result = result.model_copy(update={"output": f"{result.output}\n{NOTICE}"})
        return result

    def _restore(self) -> None:
        if self.sentinel.restore():
            self.restored += 1

    def _gated(self, name: str, args: BaseModel) -> Result:
        approved_by = None
        if self.ctx.gates is not None:
            verdict = apply_gates(self.ctx.gates, self.ctx, name, args, self.step_ref())
            if verdict.denial is not None:
                return verdict.denial
            approved_by = verdict.approved_by
        return self.tools.invoke(name, args, self.ctx, approved_by=approved_by)
