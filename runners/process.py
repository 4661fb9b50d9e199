"""One host subprocess with rlimits, a time limit and a process-group kill.

Shared by the local runner (``sh -c`` directly) and the bubblewrap runner (``bwrap ...
sh -c``). The limits are set by util-linux's ``prlimit`` exec'd in front of the command
(:func:`limit_argv`): without a Python ``preexec_fn`` the child is started with
``vfork``, which saves about 4 ms per command over a fork of the harness's process.
Where ``prlimit`` is missing, :func:`set_limits` runs between fork and exec instead.
Both streams are read into tail buffers from this thread (a selector over the two
pipes and a pidfd for the exit: no reader threads), and the whole process group is
killed at the time limit.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import resource
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runners.base import Resources
from runners.output import TailBuffer

MB = 1024 * 1024
DRAIN_S = 1.0  # after the exit, how long background children may keep the pipes open


@dataclass
class ProcessOutcome:
    """What the process did; ``returncode`` is Popen's (negative: killed by that signal)."""

    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool


def _values(resources: Resources, max_file_mb: int | None) -> dict[int, tuple[int, int]]:
    """The rlimits, soft and hard: address space, CPU time, maybe file size."""
    memory = resources.memory_mb * MB
    cpu = math.ceil(resources.timeout_s) + 1
    values = {resource.RLIMIT_AS: (memory, memory), resource.RLIMIT_CPU: (cpu, cpu + 1)}
    if max_file_mb is not None:
        size = max_file_mb * MB  # also stops a sparse file (ftruncate past it: SIGXFSZ)
        values[resource.RLIMIT_FSIZE] = (size, size)
    return values


def set_limits(resources: Resources, *, max_file_mb: int | None) -> None:
    """Runs in the child between fork and exec when ``prlimit`` is missing."""
    for which, (soft, hard) in _values(resources, max_file_mb).items():
        resource.setrlimit(which, (soft, hard))


_OPTIONS = {
    resource.RLIMIT_AS: "--as",
    resource.RLIMIT_CPU: "--cpu",
    resource.RLIMIT_FSIZE: "--fsize",
}


@functools.cache
def prlimit_path() -> str | None:
    """util-linux's ``prlimit`` when it is installed (it is on Debian, Fedora, Alpine's
    util-linux), resolved once."""
    found = shutil.which("prlimit")
    return os.path.realpath(found) if found else None


def limit_argv(
    resources: Resources, *, max_file_mb: int | None, pids: int | None = None
) -> list[str] | None:
    """``prlimit`` with the limits, ending in ``--`` (the command follows), or None.

    ``pids`` sets RLIMIT_NPROC, which counts the processes of the user *in the user
    namespace the limit is set in*: only meaningful inside a sandbox's own namespace
    (the bubblewrap runner), never on the host, and not enforced for root.
    """
    path = prlimit_path()
    if path is None:
        return None
    argv = [path]
    for which, (soft, hard) in _values(resources, max_file_mb).items():
        argv.append(f"{_OPTIONS[which]}={soft}:{hard}")
    if pids is not None:
        argv.append(f"--nproc={pids}:{pids}")
    return [*argv, "--"]


def shell_code(returncode: int) -> int:
    """A signal death as the shell reports it (128 + signal), like Docker does."""
    return 128 - returncode if returncode < 0 else returncode


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_process(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    max_output_bytes: int,
    preexec: Callable[[], None] | None = None,
) -> ProcessOutcome:
    """Run ``argv`` in a new session; SIGKILL its process group at ``timeout_s``.

    ``preexec`` (the limits when ``prlimit`` is missing) runs between fork and exec.
    """
    out, err = TailBuffer(max_output_bytes), TailBuffer(max_output_bytes)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as a whole
        preexec_fn=preexec,
    )
    assert proc.stdout is not None and proc.stderr is not None
    sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    try:
        timed_out = _collect(proc, sinks, deadline=started + timeout_s)
    finally:
        proc.stdout.close()
        proc.stderr.close()
    return ProcessOutcome(
        returncode=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
    )


def _collect(proc: subprocess.Popen[bytes], sinks: dict[int, TailBuffer], deadline: float) -> bool:
    """Read both pipes until they close and the process has exited; True on a timeout.

    The exit is seen through a pidfd, so a background child that holds the pipes open
    is given ``DRAIN_S`` after the exit, not the rest of the time limit.
    """
    timed_out = False
    exited_at: float | None = None
    pidfd = _pidfd(proc.pid)
    with selectors.DefaultSelector() as selector:
        for fd in sinks:
            selector.register(fd, selectors.EVENT_READ)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ)
        try:
            while True:
                if exited_at is None and proc.poll() is not None:
                    exited_at = time.monotonic()
                    if pidfd is not None:
                        selector.unregister(pidfd)
                reading = [fd for fd in selector.get_map() if fd in sinks]
                now = time.monotonic()
                if exited_at is not None and (not reading or now >= exited_at + DRAIN_S):
                    break  # done, or background children hold the pipes: stop reading
                if exited_at is None and now >= deadline:
                    timed_out = True
                    kill_group(proc.pid)
                    proc.wait()
                    kill_group(proc.pid)  # stragglers that escaped the first kill
                    continue
                wait = (exited_at + DRAIN_S if exited_at is not None else deadline) - now
                if pidfd is None and exited_at is None:
                    wait = min(wait, 0.05)  # no pidfd: poll for the exit
                for key, _ in selector.select(wait):
                    if key.fd == pidfd:
                        continue  # the exit: the next poll() reaps it
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        sinks[key.fd].write(chunk)
                    else:
                        selector.unregister(key.fd)
        finally:
            if pidfd is not None:
                os.close(pidfd)
    return timed_out


def _pidfd(pid: int) -> int | None:
    """A pidfd for ``pid`` (Linux 5.3+), or None: then the exit is polled every 50 ms."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
