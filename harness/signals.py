"""SIGTERM and SIGHUP handled like Ctrl-C: the run stops where it is and can resume.

A scheduler stopping a job (SIGTERM), a closed terminal or a lost SSH session (SIGHUP)
killed harness outright: no report, the runner's commands still writing into the project
and a Docker container outliving it. Inside :func:`interruptible`, both raise
:class:`Terminated`, a ``KeyboardInterrupt``, in the main thread, so every path Ctrl-C
takes runs for them too: the journaled step in flight is left in flight (the next
`harness run` runs it again), the runner stops every process it started, the run is
parked as ``interrupted`` and its report written. The exit code is the shell's for the
signal (128 + its number: 143 for SIGTERM, 129 for SIGHUP; Ctrl-C's stays 130).

Only the first such signal raises; later ones (a scheduler repeating its SIGTERM) are
noted and let the cleanup finish. The first is said at once, before the cleanup, to the
block's :class:`Stopping`: on stderr, or, once a command has given it its run's events,
as a ``notice`` of the run (a progress line, on the --json stream, nothing with --quiet).
After SIGHUP the terminal is gone: the standard streams that were a terminal are
pointed at ``/dev/null``, so the last words of the run cannot fail on a dead terminal.

The raised interrupt can be lost on its way up: CPython turns an exception raised while a
class is created (in a ``__set_name__``) into a ``RuntimeError`` (litellm's first call
imports modules, and maps that error to a provider's ``APIConnectionError``, which the
retry policy retried), and one raised in a ``__del__`` is printed and dropped. So the stop
is also kept as asked, Ctrl-C's too: :func:`stop_if_asked` raises it again where the work
goes on (the model call's retries, a journaled step's failure, the agent loop's next turn).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

from harness.errors import ExitCode

HANDLED = (signal.SIGTERM, signal.SIGHUP)
INTERRUPT_EXIT = int(ExitCode.INTERRUPTED)  # Ctrl-C (SIGINT): 128 + 2, what shells report


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by ``signum`` (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


_asked: list[int] = []
"""The signal that asked the running :func:`interruptible` block to stop, once one has."""


def stop_asked() -> int | None:
    """The signal (SIGTERM, SIGHUP, Ctrl-C's SIGINT) that asked this process to stop, or
    None."""
    return _asked[-1] if _asked else None


def stop_if_asked(cause: BaseException | None = None) -> None:
    """Raise :class:`Terminated` (``KeyboardInterrupt`` for Ctrl-C) from ``cause`` when a
    signal has asked to stop: the interrupt its handler raised may have become another
    exception or been dropped on its way."""
    if _asked:
        signum = _asked[-1]
        raise (KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)) from cause


def sleep(seconds: float) -> None:
    """``time.sleep`` that ends with :func:`stop_if_asked` once a stop is asked: a wait the
    handler's interrupt would end, had it not been lost before the wait began (a model's
    thinking time, a back-off) ends within a tenth of a second of the stop all the same."""
    deadline = time.monotonic() + seconds
    while True:
        stop_if_asked()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def exit_code(interrupt: BaseException) -> int:
    """The shell's exit code for an interruption: 128 + the signal's number."""
    return 128 + interrupt.signum if isinstance(interrupt, Terminated) else INTERRUPT_EXIT


def describe(interrupt: BaseException) -> str:
    """What stopped the process, in words: ``Ctrl-C``, ``SIGTERM``, ``SIGHUP``."""
    if isinstance(interrupt, Terminated):
        closed = " (the terminal closed)" if interrupt.signum == signal.SIGHUP else ""
        return interrupt.name + closed
    return "Ctrl-C"


class Stopping:
    """Who hears, at once, that a signal stops the process: ``say`` (default: a line on
    stderr). A command that has a run's events sets ``say`` to their ``notice``. One per
    :func:`interruptible` block, passed down by its owner (the CLI: ``args.stopping``)."""

    def __init__(self) -> None:
        self.say: Callable[[str], None] = _on_stderr


def _on_stderr(text: str) -> None:
    print(f"harness: {text}", file=sys.stderr, flush=True)


def _quiet_terminal() -> None:
    """Point the standard streams that were the (now gone) terminal at /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                if os.isatty(fd):
                    os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@contextlib.contextmanager
def interruptible(stopping: Stopping | None = None) -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` (once) while the block runs, said
    first to ``stopping`` (default: on stderr); Ctrl-C raises ``KeyboardInterrupt`` as
    Python's own handler does (unless SIGINT is ignored, as in a shell's background job).
    Each is kept as asked (:func:`stop_if_asked`). The previous handlers are put back
    afterwards. Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if signum == signal.SIGHUP:
            _quiet_terminal()
        if raised:
            return  # already stopping: let the cleanup finish
        raised = True
        _asked.append(signum)
        say = stopping.say if stopping is not None else _on_stderr
        with contextlib.suppress(OSError, ValueError):
            say(f"{signal.Signals(signum).name} received: stopping.")
        raise Terminated(signum)

    asked_before = len(_asked)

    def ctrl_c(signum: int, frame: FrameType | None) -> None:
        if len(_asked) == asked_before:
            _asked.append(signum)
        raise KeyboardInterrupt  # as Python's own handler: every Ctrl-C raises

    previous = {signum: signal.signal(signum, handler) for signum in HANDLED}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not one ignored
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        del _asked[asked_before:]
