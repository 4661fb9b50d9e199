"""The `code` tool: a short Python program that calls the session's tools as functions.

The program runs in pydantic-monty (see `runners.code_mode`); each tool call it makes is
its own journaled step (kind "tool", inputs ``{"arguments": ..., "via": "code"}``), so a
program cut short by a crash re-runs from its start on resume (it is pure) and its
completed calls replay from the journal instead of running again.

What the session must provide on the WorkContext:
    ctx.extra["journal"]   the SessionJournal of the session (required)
Gates, when `ctx.gates` is set, apply to every call the program makes, as to direct calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from harness.tools import Tool, ToolRegistry, ToolResult, invalid_arguments
from runners.code_mode import CodeLimits, HostCallError, ProgramResult, run_program
from runners.code_stubs import FunctionStub, bind_arguments, function_stub, module_stubs
from session.context import WorkContext
from session.gating import invoke_gated

if TYPE_CHECKING:
    from harness.journal import SessionJournal

CODE_TOOL = "code"
JOURNAL_KEY = "journal"


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
        self.registry: ToolRegistry[WorkContext] = ToolRegistry(exposed)
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

    def run(self, ctx: WorkContext, args: CodeArgs) -> ToolResult:
        journal: SessionJournal | None = ctx.extra.get(JOURNAL_KEY)
        if journal is None:
            return ToolResult.error(
                "code mode is not wired in this session (no journal on the work context); "
                "call the tools directly"
            )
        calls: list[dict[str, Any]] = []
        functions = {name: self._host(name, ctx, journal, calls) for name in self.stubs}
        # A call that waits for a human raises Parked: it stops the program and leaves this
        # step in flight, so the resumed run replays the program's finished calls.
        program = run_program(args.program, functions, self.stub_module, self.limits)
        return _result(program, calls)

    def _host(
        self, name: str, ctx: WorkContext, journal: SessionJournal, calls: list[dict[str, Any]]
    ) -> Any:
        stub = self.stubs[name]
        tool = self.registry.get(name)
        assert tool is not None

        def call(*args: Any, **kwargs: Any) -> str:
            try:
                bound = bind_arguments(stub, args, kwargs)
                parsed = tool.args.model_validate(bound)
            except TypeError as exc:
                raise HostCallError(str(exc)) from None
            except ValidationError as exc:
                raise HostCallError(invalid_arguments(name, exc)) from None
            arguments = parsed.model_dump(mode="json", by_alias=True)
            result = journal.step(
                "tool",
                name,
                {"arguments": arguments, "via": CODE_TOOL},
                lambda: invoke_gated(self.registry, ctx, name, parsed),
                output=ToolResult,
            )
            ref = journal.ref(journal.last_seq)
            ctx.absorb(name, result.status, result.data, ref)
            calls.append({"tool": name, "status": result.status, "ref": ref})
            if result.status != "ok":
                raise HostCallError(result.output)
            output: str = result.output
            return output

        return call


def _result(program: ProgramResult, calls: list[dict[str, Any]]) -> ToolResult:
    parts = []
    if program.output:
        parts.append(f"--- printed ---\n{program.output.rstrip()}")
    if program.value is not None:
        parts.append(f"--- value ---\n{program.value}")
    made = ", ".join(f"{c['tool']} ({c['status']})" for c in calls) or "none"
    parts.append(f"tool calls: {made}")
    data: dict[str, Any] = {"kind": program.kind, "calls": calls}
    if program.ok:
        return ToolResult(output="\n".join(parts), data=data)
    return ToolResult(
        status="error",
        output=f"error: {program.message}\n" + "\n".join(parts),
        data=data,
    )


def make_code_tool(
    tools: Iterable[Tool[WorkContext]], limits: CodeLimits | None = None
) -> Tool[WorkContext]:
    """The `code` tool over `tools` (any tool named "code" among them is left out)."""
    mode = CodeMode(tools, limits)
    return Tool(CODE_TOOL, mode.description(), CodeArgs, mode.run)
