"""ScriptedRunner: a fake runner for tests and demos of the parts that use a runner.

It runs nothing: each command gets the next matching scripted result, and every call
is recorded (command, resources, phase, fresh) for assertions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from runners.base import CommandResult, Failure, Phase, Resources


@dataclass
class Call:
    """One recorded ``run`` call."""

    command: str
    resources: Resources | None
    phase: Phase
    fresh: bool
    env: dict[str, str] | None
    cwd: str
    tree: Path | None = None


@dataclass
class Rule:
    """Commands matching ``pattern`` (a regex, searched) get these results in turn."""

    pattern: str
    results: list[CommandResult]
    repeat_last: bool = True


@dataclass
class ScriptedRunner:
    """A ``Runner`` whose results are scripted; unmatched commands exit 0 with no output."""

    rules: list[Rule] = field(default_factory=list)
    name: str = "scripted"
    sandboxed: bool = True
    calls: list[Call] = field(default_factory=list)
    closed: bool = False
    stopped: int = 0

    def on(
        self,
        pattern: str,
        *results: CommandResult | int | Failure,
        repeat_last: bool = True,
    ) -> ScriptedRunner:
        """Script results for commands matching ``pattern``: exit codes, failures or results."""
        self.rules.append(
            Rule(pattern, [self._as_result(pattern, item) for item in results], repeat_last)
        )
        return self

    @staticmethod
    def _as_result(command: str, item: CommandResult | int | Failure) -> CommandResult:
        if isinstance(item, CommandResult):
            return item
        if isinstance(item, Failure):
            return CommandResult(
                command=command,
                exit_code=None,
                stdout="",
                stderr="",
                duration_s=0.0,
                failure=item,
            )
        return CommandResult(command=command, exit_code=item, stdout="", stderr="", duration_s=0.0)

    def run(
        self,
        command: str,
        *,
        resources: Resources | None = None,
        phase: Phase = "agent",
        fresh: bool = False,
        env: dict[str, str] | None = None,
        cwd: str = ".",
        tree: Path | None = None,
        cache: bool = False,
    ) -> CommandResult:
        if self.closed:
            raise RuntimeError("ScriptedRunner used after close()")
        self.calls.append(Call(command, resources, phase, fresh, env, cwd, tree))
        for rule in self.rules:
            if re.search(rule.pattern, command) and rule.results:
                result = rule.results[0]
                if len(rule.results) > 1 or not rule.repeat_last:
                    rule.results.pop(0)
                return result.model_copy(update={"command": command})
        return CommandResult(command=command, exit_code=0, stdout="", stderr="", duration_s=0.0)

    def describe(self) -> str:
        return "scripted runner (fake: runs nothing)"

    def stop(self) -> None:
        """Nothing runs between scripted commands."""
        self.stopped += 1

    def close(self) -> None:
        self.closed = True


FakeRunner = ScriptedRunner
