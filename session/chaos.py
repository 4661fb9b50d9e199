"""Crashes on purpose, for the demo and the crash tests: SIGKILL with a step in flight.

A :class:`CrashSwitch` is a run's step hooks (`harness.scope.StepHooks`), passed to the run
by the process that wants the crash (`python -m harness.cli.chaos`, which the demo and the
tests start); nothing reads it from the environment, so no variable in a user's shell can
kill their run. Two switches:
- ``at_step=N`` (``--at-step N``): die inside the N-th live tool call of the process;
- ``at="kind:name[#k]"`` (``--in kind:name[#k]``): die inside the k-th live step of that
  kind and name (e.g. `git:commit`, `runner:wake:init.sh`, `artifact:orient`, `llm:*#3`).
A marker file under `.harness/` records that the crash happened, so the resumed process
goes past the same point instead of dying again. The switch says where it crashes through
the run's events (:func:`with_hooks`): a progress line, a ``notice`` on --json.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from harness.journal.protocol import StepJournal
    from harness.scope import RunScope, StepHooks

T = TypeVar("T")


class CrashSwitch:
    """Counts live tool calls and live steps; kills the process at the configured one."""

    def __init__(self, state_dir: Path, at_step: int | None, at: str | None = None) -> None:
        self.state_dir = state_dir
        self.at_step = at_step
        self.kind, self.name, self.nth = _parse(at)
        self.count = 0
        self.seen = 0
        self.say: Callable[[str], None] = lambda text: None  # the run's: with_hooks

    def __call__(self) -> None:
        """Called at the start of every live tool call."""
        self.count += 1
        if self.at_step is not None and self.count == self.at_step:
            self._die(f"live tool call {self.count} (--at-step)", f"step-{self.at_step}")

    def wrap(self, kind: str, name: str, fn: Callable[[], T]) -> Callable[[], T]:
        """`fn`, dying first if this is the configured live step."""
        if self.kind is None or kind != self.kind or self.name not in ("*", name):
            return fn

        def crashing() -> T:
            self.seen += 1
            if self.seen == self.nth:
                self._die(f"{kind}:{name} #{self.nth} (--in)", f"{kind}-{name}-{self.nth}")
            return fn()

        return crashing

    def _die(self, what: str, tag: str) -> None:
        marker = self.state_dir / f"crash-{tag.replace(':', '_').replace('/', '_')}.done"
        if marker.exists():
            return
        marker.write_text("crashed here on purpose\n")
        self.say(f"crashing on purpose in {what}")  # flushed by the observers
        os.kill(os.getpid(), signal.SIGKILL)


def _parse(at: str | None) -> tuple[str | None, str, int]:
    if not at:
        return None, "", 0
    spec, _, nth = at.partition("#")
    kind, _, name = spec.partition(":")
    return kind, name or "*", int(nth or 1)


def with_hooks(journal: StepJournal, scope: RunScope) -> StepJournal:
    """The run's journal through its step hooks, if it has any; a crash switch among them
    says where it crashes through the run's events."""
    if scope.hooks is None:
        return journal
    if isinstance(scope.hooks, CrashSwitch):
        scope.hooks.say = scope.events.notice
    return ChaosJournal(journal, scope.hooks)


class ChaosJournal:
    """A :class:`StepJournal` whose live steps pass through the crash switch first.

    A decorator: every member of the protocol delegates to the wrapped journal; only
    ``step`` wraps its ``fn``, so a crash happens inside a step already recorded as started.
    """

    def __init__(self, journal: StepJournal, switch: StepHooks) -> None:
        self._journal = journal
        self._switch = switch

    @property
    def replaying(self) -> bool:
        return self._journal.replaying

    @property
    def seq(self) -> int:
        return self._journal.seq

    @property
    def last_seq(self) -> int:
        return self._journal.last_seq

    @property
    def resumed_in_flight(self) -> bool:
        return self._journal.resumed_in_flight

    def ref(self, seq: int) -> str:
        return self._journal.ref(seq)

    def recorded_next(self) -> tuple[str, str] | None:
        return self._journal.recorded_next()

    def skip_nested(self, through: int) -> None:
        self._journal.skip_nested(through)

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
        return self._journal.step(
            kind,
            name,
            inputs,
            self._switch.wrap(kind, name, fn),
            cache=cache,
            idempotent=idempotent,
            recover=recover,
            version=version,
            output=output,
        )

    def close(self, outcome: str, summary: dict[str, Any]) -> None:
        self._journal.close(outcome, summary)
