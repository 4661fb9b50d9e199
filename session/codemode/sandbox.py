"""Code mode: run a short agent-written program in pydantic-monty, its tools as host functions.

The program is type-checked against stubs first, then runs in a monty worker subprocess
with no files, network, subprocess or environment, under time, memory and host-call limits.
Every failure (syntax, type, runtime, limit, a dead worker) comes back as a
`ProgramResult` the agent can read and fix; nothing here raises for the program's faults.

Host functions signal with two exceptions:

    HostCallError   the call failed in a way the program may handle (raised in the sandbox
                    as RuntimeError, catchable there)
    anything else   the host must stop (a crash, a run-level error, a parked question):
                    the program is aborted, every later host call fails at once, and the
                    exception is re-raised from `run_program` once the worker returns
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ResultKind = Literal["ok", "syntax", "type", "runtime", "limit", "crashed"]
LIMIT_ERRORS = ("TimeoutError", "MemoryError", "RecursionError")


@dataclass(frozen=True)
class CodeLimits:
    """What one program may use."""

    time_s: float = 10.0  # sandbox execution time, not counting the host calls
    memory_mb: int = 128  # sandbox heap
    host_calls: int = 50  # tool calls (and other suspensions) per program
    recursion: int = 200  # call-stack depth
    output_chars: int = 20_000  # printed output kept for the agent


class HostCallError(Exception):
    """A host call failed; the program sees a RuntimeError with this message."""


@dataclass
class ProgramResult:
    """How a program ended; `message` is the text the agent reads."""

    kind: ResultKind
    output: str = ""  # what the program printed (cut to the limit)
    value: str | None = None  # repr of the trailing expression, if any
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@dataclass
class _Output:
    """A print sink that keeps at most `limit` characters."""

    limit: int
    parts: list[str] = field(default_factory=list)
    size: int = 0
    cut: bool = False

    def __call__(self, stream: str, text: str) -> None:
        room = self.limit - self.size
        if room <= 0:
            self.cut = True
            return
        if len(text) > room:
            text, self.cut = text[:room], True
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        joined = "".join(self.parts)
        return joined + ("\n[... output cut ...]\n" if self.cut else "")


@dataclass
class _Abort:
    """The first host exception that must stop the program."""

    error: BaseException | None = None


def _guard(fn: Callable[..., Any], abort: _Abort) -> Callable[..., Any]:
    def host(*args: Any, **kwargs: Any) -> Any:
        if abort.error is not None:
            raise RuntimeError("the harness stopped this program")
        try:
            return fn(*args, **kwargs)
        except HostCallError as exc:
            raise RuntimeError(str(exc)) from None
        except BaseException as exc:  # re-raised once the worker returns
            abort.error = exc
            raise RuntimeError("the harness stopped this program") from None

    return host


def run_program(
    source: str,
    functions: Mapping[str, Callable[..., Any]],
    stubs: str,
    limits: CodeLimits | None = None,
    *,
    type_check: bool = True,
) -> ProgramResult:
    """Type-check and run `source`; host exceptions other than HostCallError propagate.

    `type_check=False` is for tests: the sandbox must hold without the checker too.
    """
    import pydantic_monty as monty

    limits = limits or CodeLimits()
    abort = _Abort()
    sink = _Output(limits.output_chars)
    guarded = {name: _guard(fn, abort) for name, fn in functions.items()}
    seed = hashlib.sha256(source.encode()).hexdigest()[:16]
    resource_limits: monty.ResourceLimits = {
        "max_feed_duration_secs": limits.time_s,
        "max_memory": limits.memory_mb * 1024 * 1024,
        "max_suspensions": limits.host_calls,
        "max_recursion_depth": limits.recursion,
    }
    # A program re-runs from the start when its session resumes: seed `random` from the
    # source and make `sleep` free, so the replay takes the same path without waiting.
    policy: monty.OSPolicy = {"sleep": "zero", "random_start": {"seed": seed}}
    result: ProgramResult
    try:
        with (
            monty.Monty(min_processes=1, max_processes=1) as pool,
            pool.checkout(
                script_name="program.py",
                limits=resource_limits,
                type_check=type_check,
                type_check_stubs=stubs,
                type_check_format="concise",
                os_policy=policy,
            ) as session,
        ):
            value = session.feed_run(source, external_lookup=guarded, print_callback=sink)
        shown = None if value is None else _repr(value, limits.output_chars)
        result = ProgramResult("ok", sink.text(), shown)
    except monty.MontyTypingError as exc:
        text = exc.display().strip()
        kind: ResultKind = "syntax" if "invalid-syntax" in text else "type"
        what = "a syntax error" if kind == "syntax" else "type errors"
        result = ProgramResult(kind, message=f"the program has {what}; nothing ran:\n{text}")
    except monty.MontySyntaxError as exc:
        result = ProgramResult("syntax", message=f"syntax error; nothing ran:\n{exc.display()}")
    except monty.MontyRuntimeError as exc:
        result = _runtime(exc, sink, limits)
    except monty.MontyCrashedError as exc:
        result = ProgramResult(
            "crashed", sink.text(), message=f"the sandbox worker died ({exc}); simplify and retry"
        )
    if abort.error is not None:
        raise abort.error
    return result


def _runtime(exc: Any, sink: _Output, limits: CodeLimits) -> ProgramResult:
    inner = exc.exception()
    name = type(inner).__name__
    text = exc.display()
    if name in LIMIT_ERRORS or "suspension limit" in str(inner):
        hint = {
            "TimeoutError": f"time limit {limits.time_s:g}s of sandbox execution",
            "MemoryError": f"memory limit {limits.memory_mb} MB",
            "RecursionError": f"recursion depth {limits.recursion}",
        }.get(name, f"at most {limits.host_calls} tool calls per program")
        return ProgramResult(
            "limit",
            sink.text(),
            message=f"the program hit the {hint}; do less per program:\n{text}",
        )
    return ProgramResult("runtime", sink.text(), message=f"the program raised:\n{text}")


def _repr(value: Any, limit: int) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " [... cut ...]"
