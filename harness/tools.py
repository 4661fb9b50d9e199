"""The tool registry: tools as pydantic-typed functions the model calls by name.

A tool's arguments are a pydantic model; its JSON Schema is what the model sees. Every
failure (unknown tool, bad JSON, invalid arguments, an exception in the tool) comes back
as a `ToolResult` the model reads, never as a crash of the harness. The registry is generic
over the context object the tools receive, and a result over the typed effects its tool
produced (the session's union, `session.effects.Effect`), so it depends on nothing of the
session. Calls are made through the session's one door (`session.pipeline`), not here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from harness.errors import HarnessError

Ctx = TypeVar("Ctx")
E = TypeVar("E")

ToolStatus = Literal["ok", "error", "denied"]


def invalid_arguments(name: str, error: ValidationError) -> str:
    """What the model reads when a tool's arguments do not fit its schema."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(arguments)'}: {err['msg']}"
        for err in error.errors()
    )
    return f"invalid arguments for {name}: {problems}"


class ToolResult(BaseModel, Generic[E]):
    """What a tool call returns: `output` is the text the model reads, `effects` what the
    call changed that the session must know (typed values, journaled with the step)."""

    status: ToolStatus = "ok"
    output: str = ""
    effects: list[E] = Field(default_factory=list)
    through: int = 0
    """The last journal step begun inside this call's step (its nested steps: a program's
    tool calls, mark_passing's proofs); 0 when it began none. A replay skips past them."""

    @classmethod
    def error(cls, message: str) -> ToolResult[Any]:
        return ToolResult(status="error", output=f"error: {message}")

    @classmethod
    def denied(cls, message: str) -> ToolResult[Any]:
        return ToolResult(status="denied", output=message)


@dataclass(frozen=True)
class Tool(Generic[Ctx]):
    """One tool: a name, a description, an argument model and the function.

    `approved` is what the tool does instead of `fn` when a human approved this very call
    (a policy gate asked and the answer was yes); it gets the approving question's id.
    `nested`: the tool makes tool calls of its own through the pipeline (code mode).
    """

    name: str
    description: str
    args: type[BaseModel]
    fn: Callable[[Ctx, Any], ToolResult[Any]]
    approved: Callable[[Ctx, Any, str], ToolResult[Any]] | None = None
    nested: bool = False

    @functools.cache  # noqa: B019 (tools live as long as the process; pydantic is slow here)
    def schema(self) -> dict[str, Any]:
        """The OpenAI-format tool description the model sees."""
        parameters = self.args.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }


class ToolRegistry(Generic[Ctx]):
    """Tools by name; parsing and running turn every failure into a result the model reads."""

    def __init__(self, tools: Iterable[Tool[Ctx]]) -> None:
        self._tools: dict[str, Tool[Ctx]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"tool {tool.name!r} registered twice")
            self._tools[tool.name] = tool

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool[Ctx] | None:
        return self._tools.get(name)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]

    def parse(self, name: str, raw_arguments: str) -> BaseModel | ToolResult[Any]:
        """Validate raw JSON arguments; a ToolResult means they were refused."""
        tool = self._tools.get(name)
        if tool is None:  # the name is the model's text (maybe a secret): not repeated
            known = ", ".join(sorted(self._tools))
            return ToolResult.error(
                f"unknown tool (a name of {len(name)} characters); the tools are: {known}"
            )
        try:
            payload = json.loads(raw_arguments or "{}")
        except json.JSONDecodeError as exc:
            return ToolResult.error(
                f"the arguments of {name} are not valid JSON ({exc.msg} at char {exc.pos}); "
                "send a JSON object matching the tool's schema"
            )
        if not isinstance(payload, dict):
            return ToolResult.error(f"the arguments of {name} must be a JSON object")
        try:
            return tool.args.model_validate(payload)
        except ValidationError as exc:
            return ToolResult.error(invalid_arguments(name, exc))

    def invoke(
        self, name: str, args: BaseModel, ctx: Ctx, *, approved_by: str | None = None
    ) -> ToolResult[Any]:
        """Run a tool on validated arguments; every exception it raises becomes an error
        result the model reads (a RecursionError, a MemoryError: the run goes on, and a
        resume replays the result), except a harness error whose class says the model cannot fix it
        (``disposition.for_model`` False: the runner, a budget, the model, a human, the
        repository, the journal, the disk): it parks or stops the run as its class says.

        Args:
            approved_by: the question by which a human approved this call, if one did.
        """
        tool = self._tools[name]
        try:
            if approved_by is not None and tool.approved is not None:
                return tool.approved(ctx, args, approved_by)
            return tool.fn(ctx, args)
        except HarnessError as exc:
            if not exc.disposition.for_model:
                raise  # the run parks or stops (declared on the class): the model cannot fix it
            return ToolResult.error(str(exc))
        except Exception as exc:  # the agent's input must not end the run
            return ToolResult.error(f"{name} failed: {type(exc).__name__}: {exc}")
