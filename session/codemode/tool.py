"""The `code` tool: a short Python program that calls the session's tools as functions.

The program runs in pydantic-monty (see `session.codemode.sandbox`); each tool call it
makes goes through the session's one door, `ctx.door` (`session.pipeline`): its own
journaled step (kind "tool", inputs ``{"arguments": ..., "via": "code"}``), the gates, the
feature list's protection, the tool, its effects; exactly as a direct call. A program cut
short by a crash re-runs from its start on resume (it is pure) and its completed calls
replay from the journal instead of running again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from harness.tools import Tool, ToolResult, invalid_arguments
from session.codemode.sandbox import CodeLimits, HostCallError, ProgramResult, run_program
from session.codemode.stubs import FunctionStub, bind_arguments, function_stub, module_stubs
from session.context import Door, WorkContext
from session.effects import Effect, ProgramCall, ProgramRan, Result

CODE_TOOL = "code"


class CodeArgs(BaseModel):
    program: str = Field(
        min_length=1,
        description="a short Python program; call the tools as functions with keyword "
        "arguments (each returns the tool's output text and raises RuntimeError when the "
        "tool fails); print() what you want to read; no imports of files, network or os",
    )


class CodeMode:
    """The code tool's state: the tools a program may call, their stubs, the limits."""

    def __init__(self, tools: Iterable[Tool[WorkContext]], limits: CodeLimits | None) -> None:
        exposed = [tool for tool in tools if tool.name != CODE_TOOL]  # no recursion
        self.args = {tool.name: tool.args for tool in exposed}
        self.stubs: dict[str, FunctionStub] = {
            tool.name: function_stub(tool.name, tool.args, tool.description) for tool in exposed
        }
        self.stub_module = module_stubs(list(self.stubs.values()))
        self.limits = limits or CodeLimits()

    def description(self) -> str:
        lim = self.limits
        return (
            "Run a short Python program that calls your tools as functions, to do several "
            "steps in one turn. It is type-checked first, then runs sandboxed (no files, "
            f"network, os or imports of them; {lim.time_s:g}s, {lim.memory_mb} MB, "
            f"{lim.host_calls} tool calls). Each tool returns its output text and raises "
            "RuntimeError when it fails. You get what it printed and its last expression. "
            "The functions:\n" + self.stub_module
        )

    def run(self, ctx: WorkContext, args: CodeArgs) -> Result:
        pipeline = ctx.door
        if pipeline is None:
            return ToolResult.error(
                "code mode is not wired in this session (no tool pipeline, hence no journal, "
                "on the work context); call the tools directly"
            )
        calls: list[ProgramCall] = []
        effects: list[Effect] = []
        functions = {name: self._host(name, pipeline, calls, effects) for name in self.stubs}
        # A call that waits for a human raises Parked: it stops the program and leaves this
        # step in flight, so the resumed run replays the program's finished calls.
        program = run_program(args.program, functions, self.stub_module, self.limits)
        return _result(program, calls, effects)

    def _host(
        self,
        name: str,
        pipeline: Door,
        calls: list[ProgramCall],
        effects: list[Effect],
    ) -> Any:
        stub = self.stubs[name]
        model = self.args[name]

        def call(*args: Any, **kwargs: Any) -> str:
            try:
                bound = bind_arguments(stub, args, kwargs)
                parsed = model.model_validate(bound)
            except TypeError as exc:
                raise HostCallError(str(exc)) from None
            except ValidationError as exc:
                raise HostCallError(invalid_arguments(name, exc)) from None
            result = pipeline.call_nested(name, parsed, via=CODE_TOOL)
            ref = pipeline.journal.ref(pipeline.journal.last_seq)
            calls.append(ProgramCall(tool=name, status=result.status, ref=ref))
            effects.extend(result.effects)
            if result.status != "ok":
                raise HostCallError(result.output)
            output: str = result.output
            return output

        return call


def _result(program: ProgramResult, calls: list[ProgramCall], effects: list[Effect]) -> Result:
    """The program's result; its effects are those of its calls (applied as they ran; a
    replay of this step applies them again)."""
    parts = []
    if program.output:
        parts.append(f"--- printed ---\n{program.output.rstrip()}")
    if program.value is not None:
        parts.append(f"--- value ---\n{program.value}")
    made = ", ".join(f"{c.tool} ({c.status})" for c in calls) or "none"
    parts.append(f"tool calls: {made}")
    ran = ProgramRan(outcome=program.kind, calls=calls)
    if program.ok:
        return ToolResult(output="\n".join(parts), effects=[ran, *effects])
    return ToolResult(
        status="error",
        output=f"error: {program.message}\n" + "\n".join(parts),
        effects=[ran, *effects],
    )


def make_code_tool(
    tools: Iterable[Tool[WorkContext]], limits: CodeLimits | None = None
) -> Tool[WorkContext]:
    """The `code` tool over `tools` (any tool named "code" among them is left out)."""
    mode = CodeMode(tools, limits)
    return Tool(CODE_TOOL, mode.description(), CodeArgs, mode.run, nested=True)
