"""Finding and stopping what a runner's commands left running, without scanning /proc.

The harness process becomes a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``,
Linux 3.4+): a process whose parent dies is re-parented to the harness, not to init. So
everything a command left behind, a daemon that called ``setsid`` and forked twice
included, is a child of the harness (or below one), and a runner finds its own among the
harness's children: those of its commands' sessions, those carrying its token, and
everything below them. The cost of a stop is the harness's children and the stopped
processes, not every process of the machine (with many runs per worker, a /proc scan per
stop grew with the square of the runs).

The processes found are frozen (SIGSTOP, top down, until no new child appears: a stopped
process cannot fork), then killed, then reaped (they are the harness's children by then).
Where the subreaper cannot be set, :func:`scan` is the old whole-/proc search.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness import children
from runners.process import kill_group

PR_SET_CHILD_SUBREAPER = 36
SETTLE_S = 5.0  # how long a stop waits for the killed processes to be gone

# Which runner (by token) each adopted child of this process belongs to. Process-wide
# like the subreaper itself: the children are this process's, whichever run left them,
# and one run's stop passes over the others' without reading anything of theirs.
_owners: dict[int, str] = {}
_owners_lock = threading.Lock()


def claim(pid: int, token: str) -> None:
    with _owners_lock:
        _owners.setdefault(pid, token)


def owner(pid: int) -> str | None:
    return _owners.get(pid)


def release(pids: list[int]) -> None:
    with _owners_lock:
        for pid in pids:
            _owners.pop(pid, None)


@functools.cache
def adopt_orphans() -> bool:
    """Make this process the subreaper of its descendants (once); False where it cannot."""
    if not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        return False  # no CONFIG_PROC_CHILDREN: the children cannot be listed
    try:
        # The process's own symbols, libc's prctl among them: no `ldconfig -p` child, which
        # ctypes.util.find_library("c") starts and parses at every `harness run`.
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def collect() -> None:
    """Reap the adopted orphans that have exited.

    A subreaper inherits every orphan below it, and each one that exits stays a zombie
    until it is waited for: a sandbox's inner bwrap after each command, a command's
    background child that ended on its own. A long-lived process (a fleet worker, a run
    of thousands of commands) would fill the pid table with them.

    Only orphans are reaped, never a child some ``Popen`` waits for: those in this
    process's session (only a direct child can be there) and those listed by
    :mod:`harness.children` (started in a session of their own) are passed over.
    """
    if adopt_orphans.cache_info().currsize == 0 or not adopt_orphans():
        return  # not a subreaper: orphans go to init, which reaps them
    try:
        if os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return  # no child has exited: one system call, the usual case
    except ChildProcessError:
        return
    own = os.getsid(0)
    with children.sweeping() as listed:
        for pid in orphans():
            info = stat(pid)
            if info is None or info.state not in ("Z", "X"):
                continue
            if info.session == own or pid in listed:
                continue
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            release([pid])  # its number may be given to a new process


@dataclass(frozen=True)
class Stat:
    state: str
    ppid: int
    session: int


def stat(pid: int) -> Stat | None:
    """State, parent and session of ``pid`` (None: gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2 :].split()  # the name may hold spaces and parens
    return Stat(state=fields[0].decode(), ppid=int(fields[1]), session=int(fields[3]))


def children_of(pid: int) -> list[int]:
    """The children of every thread of ``pid``."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as handle:
            found.extend(int(child) for child in handle.read().split())
    return found


def orphans() -> list[int]:
    """This process's children listed on its main thread: where re-parented orphans go
    (and the children it started from that thread)."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def carries(pid: int, marker: bytes) -> bool:
    """Whether ``pid``'s environment holds the ``NAME=value`` ``marker``."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return marker in handle.read().split(b"\0")
    except OSError:
        return False


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, number)


def stop_family(roots: list[int]) -> list[int]:
    """Freeze ``roots`` and everything below them, kill it all; the pids killed."""
    frozen: list[int] = []
    seen: set[int] = set()
    todo = list(roots)
    while todo:  # top down: a stopped parent forks no new child behind the walk
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        _signal(pid, signal.SIGSTOP)
        frozen.append(pid)
        todo.extend(children_of(pid))
    for pid in frozen:
        _signal(pid, signal.SIGKILL)
    return frozen


def reap(pids: list[int], *, skip: Callable[[int], bool]) -> None:
    """Wait until ``pids`` are gone and collect those that became this process's zombies."""
    me = os.getpid()
    deadline = time.monotonic() + SETTLE_S
    for pid in pids:
        while not skip(pid):
            info = stat(pid)
            if info is None:
                break
            if info.ppid == me and info.state in ("Z", "X"):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                break
            if time.monotonic() >= deadline:
                break
            if info.state in ("Z", "X"):
                time.sleep(0.001)  # dead, its parent dying: it is re-parented here next
            else:
                _wait_exit(pid, deadline)


def _wait_exit(pid: int, deadline: float) -> None:
    """Block until ``pid`` exits (a pidfd), or a short while without one."""
    opener = getattr(os, "pidfd_open", None)
    fd = None
    if opener is not None:
        with contextlib.suppress(OSError):
            fd = int(opener(pid))
    if fd is None:
        time.sleep(0.01)
        return
    try:
        select.select([fd], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
    finally:
        os.close(fd)


def scan(marker: bytes) -> None:
    """The whole-/proc search: kill every process carrying ``marker`` (no subreaper)."""

    for _ in range(3):  # a process may fork while the sweep runs
        found = [
            int(name)
            for name in os.listdir("/proc")
            if name.isdigit() and int(name) != os.getpid() and carries(int(name), marker)
        ]
        if not found:
            return
        for pid in found:
            kill_group(pid)
            _signal(pid, signal.SIGKILL)
