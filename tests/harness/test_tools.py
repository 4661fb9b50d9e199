"""The tool registry: every exception a tool raises is a result the model reads, except
the run-level errors, which go on to park or stop the run."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from harness.errors import BudgetExhausted, GitError, JournalDamaged, Parked, StorageError
from harness.tools import Tool, ToolRegistry, ToolResult


class NoArgs(BaseModel):
    pass


def _registry(error: BaseException) -> ToolRegistry[None]:
    def boom(ctx: None, args: Any) -> ToolResult[Any]:
        raise error

    return ToolRegistry([Tool("boom", "raises", NoArgs, boom)])


def _deep(n: int) -> int:
    return _deep(n + 1)


@pytest.mark.parametrize(
    "error",
    [
        RecursionError("maximum recursion depth exceeded"),
        MemoryError(),
        KeyError("x"),
        TypeError("bad"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        GitError("git status failed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_exception_of_a_tool_is_a_result(error: BaseException) -> None:
    result = _registry(error).invoke("boom", NoArgs(), None)
    assert result.status == "error" and result.output.startswith("error: ")
    if not isinstance(error, GitError):
        assert f"boom failed: {type(error).__name__}" in result.output


def test_a_real_recursion_is_a_result() -> None:
    registry = ToolRegistry([Tool("deep", "recurses", NoArgs, lambda ctx, args: _deep(0))])
    assert "RecursionError" in registry.invoke("deep", NoArgs(), None).output


@pytest.mark.parametrize(
    "error",
    [
        BudgetExhausted("session_steps", 1, 2),
        Parked("q1", "?"),
        StorageError("/p", "full"),
        JournalDamaged("damaged"),
        KeyboardInterrupt(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_run_level_errors_and_interrupts_go_on(error: BaseException) -> None:
    with pytest.raises(type(error)):
        _registry(error).invoke("boom", NoArgs(), None)


def test_an_unknown_name_is_not_repeated() -> None:
    secret = "sk-aNameThatIsAKey0123456789abcdef"
    refused = _registry(ValueError()).parse(secret, "{}")
    assert isinstance(refused, ToolResult) and secret not in refused.output
    assert "unknown tool (a name of 34 characters); the tools are: boom" in refused.output
