"""Code mode: the agent's `code` tool, a short Python program calling its tools as functions.

`sandbox` runs the program in pydantic-monty (imported when first used), `stubs` writes the
type stubs it is checked against, `tool` is the tool itself, whose calls go through the
session's tool pipeline like every other call.
"""

from session.codemode.sandbox import CodeLimits, HostCallError, ProgramResult, run_program
from session.codemode.tool import CODE_TOOL, CodeArgs, CodeMode, make_code_tool

__all__ = [
    "CODE_TOOL",
    "CodeArgs",
    "CodeLimits",
    "CodeMode",
    "HostCallError",
    "ProgramResult",
    "make_code_tool",
    "run_program",
]
