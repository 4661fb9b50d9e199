"""Helpers for the code-tool tests: a tool with a visible side effect, and a driver that
runs one `code` call the way the agent loop does (through the session's tool pipeline: a
journaled "tool" step named "code").

Run as a script (`python -m tests.session.code_support ROOT PROGRAM_FILE`) it does one
such call in a fresh process and prints the result as JSON, so a test can kill it midway.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from pydantic import BaseModel, Field

from harness.errors import Parked
from harness.journal import Journal
from harness.tools import Tool, ToolRegistry, ToolResult
from session.codemode import make_code_tool
from session.codemode.sandbox import CodeLimits
from session.context import WorkContext
from session.effects import Result
from session.pipeline import ToolPipeline
from session.tools.files import FILE_TOOLS

BLOCK_ENV = "HARNESS_TEST_BLOCK_ON"
RAISE_ENV = "HARNESS_TEST_RAISE_ON"
PARK_ENV = "HARNESS_TEST_PARK_ON"


class BumpArgs(BaseModel):
    label: str = Field(description="what to append to effects.txt")


class HostCrash(BaseException):
    """Stands for the process dying inside a tool call (not an Exception: the journal
    records no failure for it, as for a real crash)."""


def bump(ctx: WorkContext, args: BumpArgs) -> Result:
    """Append a label to effects.txt; told to, hang or raise before acting."""
    if args.label == os.environ.get(BLOCK_ENV):
        (ctx.root / "blocked").write_text("yes")
        while True:
            time.sleep(0.05)
    if args.label == os.environ.get(RAISE_ENV):
        raise HostCrash(f"crash while bumping {args.label}")
    if args.label == os.environ.get(PARK_ENV):
        raise Parked("q1", f"may I bump {args.label}?")
    with (ctx.root / "effects.txt").open("a") as handle:
        handle.write(args.label + "\n")
    return ToolResult(output=f"bumped {args.label}")


BUMP: Tool[WorkContext] = Tool("bump", "Append a label to effects.txt.", BumpArgs, bump)
TOOLS = [*FILE_TOOLS, BUMP]


def effects(root: Path) -> list[str]:
    path = root / "effects.txt"
    return path.read_text().splitlines() if path.exists() else []


def run_code(root: Path, program: str, *, session_number: int = 1, time_s: float = 2.0) -> Result:
    """One `code` tool call, first step of a session of the project's (resumed) run;
    ``time_s``: the program's time limit."""

    with Journal.open(root / ".harness") as journal:
        run_id = journal.unfinished_run("run")
        run = journal.resume_run(run_id) if run_id else journal.start_run("run")
        session = run.session(session_number)
        ctx = WorkContext(root=root, runner=None, run_id=run.id, session=session_number)  # type: ignore[arg-type]
        tools = ToolRegistry([*TOOLS, make_code_tool(TOOLS, CodeLimits(time_s=time_s))])
        pipeline = ToolPipeline(session, tools, ctx)
        ctx.door = pipeline
        return pipeline.call("call-1", "code", json.dumps({"program": program}))


def main(argv: list[str]) -> int:
    root, program_file = Path(argv[0]), Path(argv[1])
    result = run_code(root, program_file.read_text())
    print(result.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
