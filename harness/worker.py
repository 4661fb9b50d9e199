"""A killable worker process for work the harness does on the agent's input.

Some of what a tool does inside the harness is unbounded by nature: a regular expression
the agent wrote can backtrack for hours in C code no timer interrupts between bytecodes
(``(a+)+$`` over a long line), and another engine's compiler can take gigabytes for a
pattern of twenty characters (the ``regex`` package needs 3 GB and 6 s to compile
``(((a{100}){100}){100}){10}``, outside its own ``timeout``). A thread cannot be stopped;
a process can. :class:`Worker` runs named functions in a child process, one call at a
time, and kills it when a call passes its time limit; the next call starts a new one.

The child is started with ``python -I`` (no ``PYTHON*`` variables, no user site, no
current folder on ``sys.path``) from ``/``, with an empty environment (no key or token
reaches it), the harness's own install folder first on ``sys.path``, and an address-space
limit (``RLIMIT_AS``) it sets on itself before anything else. It calls only the functions
it was started with. Requests and answers are JSON lines on its stdin and stdout.

Cost, measured by ``bench/tools.py``: the child starts in tens of milliseconds, once per
session (only when a tool needs it); a call costs a pipe round trip.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import children
from harness.errors import HarnessError

MEMORY_MB = 1024
"""Address space of the child: a regex engine's worst case stops at this."""
_BOOT = (
    "import sys; sys.path.insert(0, {home!r}); "
    "from harness.worker import serve; serve({functions!r}, {memory})"
)


class Overran(HarnessError):
    """A call passed its time limit: the child was killed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"stopped after {seconds:.3g} s, its time limit")


class WorkerFailed(HarnessError):
    """The call raised in the child (its class and message), or the child died."""


class Worker:
    """One child process at a time, started on the first call; :meth:`close` ends it."""

    def __init__(self, functions: Sequence[str], *, memory_mb: int = MEMORY_MB) -> None:
        self.functions = tuple(functions)
        self.memory_mb = memory_mb
        self.started = 0  # children started (the tests and the benchmark read it)
        self._child: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def call(self, function: str, args: dict[str, Any], *, timeout: float) -> Any:
        """``function(**args)`` in the child, its JSON-able return value.

        Raises:
            Overran: not answered within ``timeout`` seconds (the child was killed).
            WorkerFailed: it raised there (e.g. MemoryError at the memory limit), or the
                child died.
        """
        if function not in self.functions:
            raise ValueError(f"{function} is not one of the worker's functions")
        deadline = time.monotonic() + max(0.0, timeout)
        child = self._ensure()
        assert child.stdin is not None and child.stdout is not None
        request = json.dumps({"function": function, "args": args}).encode() + b"\n"
        try:
            child.stdin.write(request)
            child.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            raise WorkerFailed("the worker process ended before the call") from None
        line = self._answer(child, deadline)
        if line is None:
            self.close()
            raise Overran(timeout)
        if not line.endswith(b"\n"):
            try:
                code: int | None = child.wait(timeout=5)  # its output closed: it is ending
            except subprocess.TimeoutExpired:
                code = None
            self.close()
            raise WorkerFailed(f"the worker process died ({_how(code)})")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerFailed(str(answer["error"]))
        return answer["value"]

    def close(self) -> None:
        """Kill the child, if there is one (a call in progress is lost)."""
        if self._finalizer is not None:
            self._finalizer()
        self._child = self._finalizer = None

    # -- internals -----------------------------------------------------------------------
    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._child is not None and self._child.poll() is None:
            return self._child
        self.close()
        home = str(Path(__file__).resolve().parent.parent)
        boot = _BOOT.format(home=home, functions=self.functions, memory=self.memory_mb)
        child = children.popen(
            [sys.executable, "-I", "-c", boot],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env={},
            start_new_session=True,  # a terminal's Ctrl-C reaches the harness, not the child
            close_fds=True,
        )
        self._child = child
        self._finalizer = weakref.finalize(self, _kill, child)
        self.started += 1
        return child

    @staticmethod
    def _answer(child: subprocess.Popen[bytes], deadline: float) -> bytes | None:
        """The child's answer line (without its end if the child died), or None when the
        deadline passed first."""
        assert child.stdout is not None
        fd = child.stdout.fileno()
        chunks: list[bytes] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            chunks.append(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return b"".join(chunks)


def _kill(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            child.kill()
    child.wait()
    children.done(child.pid)
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _how(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit {code}"


def serve(functions: Sequence[str], memory_mb: int) -> None:
    """The child's loop: one JSON request a line on stdin, one JSON answer a line on stdout."""

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    table = {}
    for name in functions:
        module, _, attribute = name.partition(":")
        table[name] = getattr(importlib.import_module(module), attribute)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            answer = {"value": table[request["function"]](**request["args"])}
        except Exception as error:  # the caller reads it; the child goes on serving
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
