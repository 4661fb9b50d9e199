"""Code mode: the sandbox holds, errors come back as results, tool calls are journaled steps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from harness.errors import Parked
from harness.journal import Journal
from harness.tools import Tool, ToolResult
from session.codemode import CodeArgs, make_code_tool
from session.codemode.sandbox import CodeLimits, HostCallError, run_program
from session.codemode.stubs import bind_arguments, function_stub, module_stubs
from session.context import WorkContext
from session.effects import ProgramRan
from session.tools.files import ReadArgs
from tests.session.code_support import (
    BLOCK_ENV,
    PARK_ENV,
    RAISE_ENV,
    TOOLS,
    HostCrash,
    effects,
    run_code,
)


class EchoArgs(BaseModel):
    text: str = Field(description="what to echo")
    times: int = Field(1, ge=1)


ECHO = function_stub("echo", EchoArgs, "Echo text.")
STUBS = module_stubs([ECHO])
FAST = CodeLimits(time_s=1.0, memory_mb=32, host_calls=5)
LOOPS = CodeLimits(time_s=0.3, memory_mb=32, host_calls=5)
"""For a program that never ends: it spins until the limit, so the limit is its cost."""


def echo_host(calls: list[dict[str, Any]]) -> Any:
    def echo(*args: Any, **kwargs: Any) -> str:
        bound = bind_arguments(ECHO, args, kwargs)
        calls.append(bound)
        if bound["text"] == "fail":
            raise HostCallError("echo: told to fail")
        return bound["text"] * bound.get("times", 1)

    return echo


# --- stubs -------------------------------------------------------------------------------


class Mixed(BaseModel):
    a: int = 1
    b: str
    c: Literal["x", "y"] | None = None
    d: list[str] = Field(default_factory=list)


def test_stub_of_the_read_file_tool() -> None:

    stub = function_stub("read_file", ReadArgs)
    assert stub.text.startswith(
        "def read_file(path: str, offset: int = 0, limit: int = 2000) -> str:"
    )
    assert stub.positional == ("path", "offset", "limit")


def test_required_after_default_becomes_keyword_only() -> None:
    stub = function_stub("mixed", Mixed)
    assert "(a: int = 1, *, b: str, c: Literal['x', 'y'] | None = None" in stub.text
    assert stub.positional == ("a",)
    assert bind_arguments(stub, (2,), {"b": "s"}) == {"a": 2, "b": "s"}
    with pytest.raises(TypeError, match="positional"):
        bind_arguments(stub, (2, "s"), {})
    with pytest.raises(TypeError, match="unexpected argument 'zz'"):
        bind_arguments(stub, (), {"zz": 1})


def test_each_tool_s_stub_is_made_once_per_process() -> None:
    """Every session builds its code tool over the same tools: the stubs are made the
    first time only (pydantic inspecting each default factory cost ~4 ms of CPU a session,
    and a fleet worker starts hundreds of sessions at once when it takes runs over)."""
    made: list[int] = []

    def factory() -> list[str]:
        made.append(1)
        return []

    class Counted(BaseModel):
        items: list[str] = Field(default_factory=factory)

    tool: Tool[Any] = Tool("counted", "Count.", Counted, lambda ctx, args: ToolResult(output=""))
    first = make_code_tool([tool])
    second = make_code_tool([tool])  # the next session's
    assert "def counted(items: list[str] = ...) -> str:" in first.description
    assert second.description == first.description
    assert len(made) == 1
    other: Tool[Any] = Tool("counted", "Count again.", Counted, tool.fn)
    assert '"""Count again."""' in make_code_tool([other]).description  # its own stub


# --- programs ----------------------------------------------------------------------------


def test_program_calls_host_functions_and_prints() -> None:
    calls: list[dict[str, Any]] = []
    source = 'a = echo(text="ab", times=2)\nb = echo("c")\nprint(a, b)\nlen(a + b)'
    result = run_program(source, {"echo": echo_host(calls)}, STUBS, FAST)
    assert result.kind == "ok", result.message
    assert result.output == "abab c\n"
    assert result.value == "5"
    assert calls == [{"text": "ab", "times": 2}, {"text": "c"}]


def test_host_errors_are_catchable_runtime_errors() -> None:
    source = 'try:\n    echo(text="fail")\nexcept RuntimeError as e:\n    print("caught:", e)\n'
    result = run_program(source, {"echo": echo_host([])}, STUBS, FAST)
    assert result.kind == "ok"
    assert "caught: echo: told to fail" in result.output


def test_host_abort_cannot_be_swallowed() -> None:
    """A host exception that is not a HostCallError stops the program and propagates."""
    calls: list[str] = []

    def boom(*args: Any, **kwargs: Any) -> str:
        calls.append("boom")
        raise KeyError("the host is going down")

    source = (
        "for i in range(3):\n"
        "    try:\n"
        '        echo(text="x")\n'
        "    except BaseException:\n"
        "        pass\n"
    )
    with pytest.raises(KeyError, match="going down"):
        run_program(source, {"echo": boom}, STUBS, FAST)
    assert calls == ["boom"]  # the later calls never reached the host


@pytest.mark.parametrize(
    ("source", "kind", "needle"),
    [
        ("def f(:\n    pass", "syntax", "syntax"),
        ("echo(text=3)", "type", "invalid-argument-type"),
        ('x: int = echo(text="a")', "type", "invalid-assignment"),
        ('echo(text="a", bogus=1)', "type", "bogus"),
        ("1 / 0", "runtime", "ZeroDivisionError"),
        ('echo(text="fail")', "runtime", "told to fail"),
    ],
)
def test_errors_come_back_as_results(source: str, kind: str, needle: str) -> None:
    calls: list[dict[str, Any]] = []
    result = run_program(source, {"echo": echo_host(calls)}, STUBS, FAST)
    assert result.kind == kind
    assert needle in result.message
    if kind in ("syntax", "type"):
        assert calls == []  # nothing ran


ESCAPES = [
    # files
    'open("/etc/passwd").read()',
    'import pathlib\npathlib.Path("/etc/passwd").read_text()',
    'import os\nos.listdir("/")',
    'import os\nos.remove("/tmp/x")',
    # imports and builtins that reach the host
    '__import__("os")',
    "import subprocess",
    'import subprocess\nsubprocess.run(["ls"])',
    "import socket",
    "import urllib.request",
    "import ctypes",
    "import importlib",
    'import os\nos.system("touch /tmp/pwned")',
    "import sys\nsys.modules",
    "globals()",
    # environment
    'import os\nos.environ["HOME"]',
    'import os\nos.getenv("HOME")',
]


@pytest.mark.parametrize("source", ESCAPES)
@pytest.mark.parametrize("checked", [True, False], ids=["type-checked", "unchecked"])
def test_escapes_fail_cleanly(source: str, checked: bool) -> None:
    """Every escape fails, whether the type checker or (without it) the runtime stops it."""
    result = run_program(source, {"echo": echo_host([])}, STUBS, FAST, type_check=checked)
    assert result.kind == ("runtime" if not checked else result.kind), result
    assert result.kind in ("type", "runtime"), (source, result)
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("while True:\n    pass", "time limit"),
        ("try:\n    while True:\n        pass\nexcept BaseException:\n    pass", "time limit"),
        ('x = "a" * (10 ** 9)', "memory limit"),
        ("x = [0] * (10 ** 8)", "memory limit"),
        ("s = [1]\nfor i in range(40):\n    s = s + s", "memory limit"),
        ("def f(n: int) -> int:\n    return f(n + 1)\nf(0)", "recursion"),
        ('for i in range(100):\n    echo(text="x")', "tool calls"),
    ],
)
def test_limits_stop_the_program(source: str, needle: str) -> None:
    calls: list[dict[str, Any]] = []
    limits = LOOPS if needle == "time limit" else FAST
    result = run_program(source, {"echo": echo_host(calls)}, STUBS, limits)
    assert result.kind == "limit", result
    assert needle in result.message
    assert len(calls) <= FAST.host_calls


def test_printing_forever_is_cut() -> None:
    limits = CodeLimits(time_s=0.5, output_chars=1000)
    result = run_program('while True:\n    print("y" * 100)', {}, STUBS, limits)
    assert result.kind == "limit"
    assert len(result.output) < 1100 and "output cut" in result.output


def test_sleep_costs_nothing() -> None:
    result = run_program("import time\ntime.sleep(60)\n'woke'", {}, STUBS, FAST)
    assert result.kind == "ok" and result.value == "'woke'"


# --- the `code` tool, each call a journaled step -----------------------------------------

TWO_CALLS = 'bump(label="first")\nbump(label="second")\nprint(read_file(path="effects.txt"))\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    pytest.importorskip("harness.journal", reason="the journal has not landed")
    root = tmp_path / "project"
    root.mkdir()
    (root / "notes.md").write_text("hello from the project\n")
    return root


def test_program_calling_tools_works(project: Path) -> None:

    result = run_code(project, 'text = read_file(path="notes.md")\nbump(label=text.split()[-1])')
    assert result.status == "ok", result.output
    assert effects(project) == ["project"]

    ran = [e for e in result.effects if isinstance(e, ProgramRan)]
    assert len(ran) == 1 and ran[0].outcome == "ok"
    assert [c.tool for c in ran[0].calls] == ["read_file", "bump"]
    assert all(c.ref.startswith("journal:") for c in ran[0].calls)


def test_tool_errors_reach_the_program(project: Path) -> None:

    program = 'try:\n    read_file(path="missing.txt")\nexcept RuntimeError as e:\n    print(e)\n'
    result = run_code(project, program)
    assert result.status == "ok"
    assert "missing.txt does not exist" in result.output
    refused = run_code(project, 'read_file(path="../../etc/passwd")', session_number=2)
    assert refused.status == "error" and "climbs out" in refused.output


def test_errors_are_results_the_agent_can_fix(project: Path) -> None:

    for n, program in enumerate(
        [
            "bump(label=1)",
            "bump(",
            'import os\nos.getenv("HOME")',
            "while True:\n    pass",
            'code(program="1")',
        ]
    ):
        # 0.5 s: "while True" spins until the limit (the default 2 s is for real work)
        result = run_code(project, program, session_number=n + 1, time_s=0.5)
        assert result.status == "error", program
        assert result.output.startswith("error: ")
    assert effects(project) == []


def test_code_is_not_callable_from_code(project: Path) -> None:

    inner = make_code_tool(TOOLS)
    outer = make_code_tool([*TOOLS, inner])
    assert "def code(" not in outer.description
    assert "def bump(" in outer.description


def test_without_a_journal_the_tool_says_so(tmp_path: Path) -> None:

    ctx = WorkContext(root=tmp_path, runner=None, run_id="r", session=1)  # type: ignore[arg-type]
    result = make_code_tool(TOOLS).fn(ctx, CodeArgs(program='bump(label="x")'))
    assert result.status == "error" and "journal" in result.output
    assert effects(tmp_path) == []


@pytest.mark.slow(reason="kills its code-mode child")
def test_killed_midway_resumes_without_repeating_calls(project: Path) -> None:
    """SIGKILL while the program's 2nd call hangs; the resumed program replays the 1st."""

    program = project.parent / "program.py"
    program.write_text(TWO_CALLS)
    command = [sys.executable, "-m", "tests.session.code_support", str(project), str(program)]
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, BLOCK_ENV: "second"}
    child = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (project / "blocked").exists():
        assert child.poll() is None, "the child ended before blocking"
        assert time.monotonic() < deadline, "the child never reached the second call"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert effects(project) == ["first"]

    env.pop(BLOCK_ENV)
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "ok", result
    assert effects(project) == ["first", "second"]  # the first call was not repeated
    assert "first\nsecond" in result["output"]

    with Journal.open_readonly(project / ".harness") as journal:
        steps = [(s.name, s.status, s.attempts) for s in journal.steps()]
        detail = journal.step_detail(steps_run_id(journal), 1, 2)
    assert steps == [
        ("code", "ended", 2),  # in flight at the kill: ran again
        ("bump", "ended", 1),  # replayed, not repeated
        ("bump", "ended", 2),  # in flight at the kill: ran again
        ("read_file", "ended", 1),
    ]
    assert detail is not None
    assert detail.inputs == {"arguments": {"label": "first"}, "via": "code"}


def steps_run_id(journal: Any) -> str:
    runs = journal.runs()
    assert len(runs) == 1
    return str(runs[0].id)


def test_host_crash_after_a_call_resumes_without_repeating_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv(RAISE_ENV, "second")
    with pytest.raises(HostCrash):
        run_code(project, TWO_CALLS)
    assert effects(project) == ["first"]
    monkeypatch.delenv(RAISE_ENV)
    result = run_code(project, TWO_CALLS)
    assert result.status == "ok", result.output
    assert effects(project) == ["first", "second"]


def test_a_call_waiting_for_a_human_stops_the_program_and_resumes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parked inside a program is not swallowed: it reaches the loop (which parks the
    run), and the next run replays the finished call and goes on from the waiting one."""

    monkeypatch.setenv(PARK_ENV, "second")
    with pytest.raises(Parked):
        run_code(project, TWO_CALLS)
    assert effects(project) == ["first"]
    with Journal.open_readonly(project / ".harness") as journal:
        in_flight = [(s.name, s.status) for s in journal.steps() if s.status == "started"]
    assert ("code", "started") in in_flight and ("bump", "started") in in_flight
    monkeypatch.delenv(PARK_ENV)  # the human answered
    result = run_code(project, TWO_CALLS)
    assert result.status == "ok", result.output
    assert effects(project) == ["first", "second"]
