"""The demo's `harness` children: forks of the demo's process, litellm loaded once.

Each `harness` the demo starts (its init, the run it kills, the run that resumes) is a
real child process, with the environment and the working folder a new interpreter would
get (:func:`harness.hostpath.child_env`, :data:`harness.hostpath.NEUTRAL_CWD`), stdin
shared, and its own exit or death. It is a fork of this process, made after
:func:`harness.model.lean.warm_up`: litellm, its first call's modules and its tokenizer
are loaded here once (~5 CPU-s) instead of once in each of three new interpreters.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from harness.hostpath import NEUTRAL_CWD, child_env

Entry = Callable[[list[str]], object]

_GRACE_S = 0.25  # what `subprocess.run` gives a child after a Ctrl-C before killing it


def run_child(module: str, argv: Sequence[str]) -> int:
    """``python -m module argv`` (``harness`` or ``harness.cli.chaos``) as a forked child;
    its exit code, negative for the signal that ended it (as ``subprocess.run`` reports)."""
    from harness.model.lean import warm_up

    warm_up()  # before the fork: every child has what it loaded
    entry: Entry = importlib.import_module("harness.cli" if module == "harness" else module).main
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the demo
        _child(entry, list(argv))
    try:
        status = os.waitpid(pid, 0)[1]
    except BaseException:  # Ctrl-C or SIGTERM here: as `subprocess.run`, kill it, then raise
        _end(pid)
        raise
    return os.waitstatus_to_exitcode(status)


def _end(pid: int) -> None:
    """Give the child the grace `subprocess.run` gives, then SIGKILL it and reap it."""
    import time

    deadline = time.monotonic() + _GRACE_S
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, InterruptedError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _child(entry: Entry, argv: list[str]) -> NoReturn:
    code = 70
    # The demo's objects are never collected here: their descriptors are closed below, and
    # one finalized later would close whatever file reused its number.
    gc.freeze()
    try:
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # as subprocess's close_fds
        env = child_env()
        os.environ.clear()
        os.environ.update(env)
        os.chdir(NEUTRAL_CWD)
        # The signal handlers a new interpreter starts with (the demo's are for the demo).
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        code = exit_code(entry, argv)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def exit_code(entry: Entry, argv: list[str]) -> int:
    """What `sys.exit(entry(argv))` would make the exit code (a traceback gives 1); also the
    tests' forked `harness` children's (tests/session/support.py)."""
    try:
        result = entry(argv)
    except SystemExit as stop:
        result = stop.code
    except BaseException:
        traceback.print_exc()
        return 1
    if result is None:
        return 0
    if isinstance(result, int):
        return result & 0xFF
    print(result, file=sys.stderr)
    return 1
