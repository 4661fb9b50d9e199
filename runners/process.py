"""One host subprocess with rlimits, a time limit and a process-group kill.

Shared by the local runner (``sh -c`` directly) and the bubblewrap runner (``bwrap ...
sh -c``). The limits are set by util-linux's ``prlimit`` exec'd in front of the command
(:func:`limit_argv`), or in the bubblewrap sandbox where ``/bin/sh`` is dash by the
shell's own ``ulimit`` (:func:`limit_script`, no exec at all): without a Python
``preexec_fn`` the child is started with
``vfork``, which saves about 4 ms per command over a fork of the harness's process.
Where ``prlimit`` is missing, :func:`set_limits` runs between fork and exec instead.
Both streams are read into tail buffers from this thread (a selector over the two
pipes and a pidfd for the exit: no reader threads), and the whole process group is
killed at the time limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import math
import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import children
from harness.errors import RunnerError
from harness.hostpath import program
from harness.leftovers import pid_alive as pid_alive  # re-exported: the runners' callers use it
from runners.base import Failure, Resources
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
    started: bool | None = None
    """Whether the shell that runs the command started (None: not watched). False means
    what comes before it failed (bwrap setting up the sandbox, prlimit setting the
    limits): a fault of the machine, not of the command."""


# The shell that runs a command says it started (one byte written to its stdin, the write
# end of a pipe only harness reads, then stdin becomes /dev/null as it always was) before it
# runs the command, given as its first argument: nothing the command does can forge or
# suppress it, and a command that does not parse still counts as started. The same shell
# then runs the command (eval, its argument and the variable gone first, $0 as `sh -c`
# has it): no second shell to start (`exec /bin/sh -c "$1"` cost an exec per command).
STARTED = (
    "printf . >&0; exec 0</dev/null; __harness_command=$1; shift; "
    'eval "unset __harness_command; $__harness_command"'
)


def shell_argv(command: str, prelude: str = "") -> list[str]:
    """``/bin/sh`` running ``command`` after writing the started byte to its stdin;
    ``prelude`` (the limits: :func:`limit_script`) first: when it fails the shell exits
    before the byte (the command never started)."""
    script = f"{prelude} || exit 125; {STARTED}" if prelude else STARTED
    return ["/bin/sh", "-c", script, "/bin/sh", command]


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
def dash_shell() -> bool:
    """Whether ``/bin/sh`` is dash (Debian, Ubuntu): then the shell that runs a command
    sets its limits itself (:func:`limit_script`), with no ``prlimit`` to exec first."""
    return os.path.basename(os.path.realpath("/bin/sh")).startswith("dash")


_ULIMIT = {resource.RLIMIT_AS: ("v", 1024), resource.RLIMIT_CPU: ("t", 1)}
_ULIMIT[resource.RLIMIT_FSIZE] = ("f", 512)  # dash: KiB, seconds, 512-byte blocks


def limit_script(resources: Resources, *, max_file_mb: int | None, pids: int | None) -> str:
    """dash's ``ulimit`` commands setting what :func:`limit_argv` sets (soft and hard),
    joined by ``&&``: builtins, in the shell that then runs the command (prlimit was an
    exec per command: 1.2 ms of CPU, and +7.4 ms of the runner's median at load 23)."""
    parts: list[str] = []
    for which, (soft, hard) in _values(resources, max_file_mb).items():
        flag, unit = _ULIMIT[which]
        parts.append(f"ulimit -{flag} {hard // unit}")  # soft and hard
        if soft != hard:
            parts.append(f"ulimit -S -{flag} {soft // unit}")
    if pids is not None:
        parts.append(f"ulimit -p {pids}")
    return " && ".join(parts)


@functools.cache
def prlimit_path() -> str | None:
    """util-linux's ``prlimit`` when it is installed (it is on Debian, Fedora, Alpine's
    util-linux), resolved once."""
    found = program("prlimit")  # never a relative PATH entry (it resolves in the project)
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
    shell: str | None = None,
    on_start: Callable[[int], None] | None = None,
    prelude: str = "",
) -> ProcessOutcome:
    """Run ``argv`` in a new session; SIGKILL its process group at ``timeout_s``.

    ``preexec`` (the limits when ``prlimit`` is missing) runs between fork and exec.
    ``shell``: a command run by ``/bin/sh`` after ``argv`` (a prefix such as bwrap and
    prlimit), watched: the outcome says whether that shell started. ``on_start`` is
    given the process's pid (its session and group id) as soon as it exists.
    ``prelude``: what that shell runs before it says it started (:func:`shell_argv`).
    """
    out, err = TailBuffer(max_output_bytes), TailBuffer(max_output_bytes)
    mark = TailBuffer(16)
    read_end, write_end = -1, subprocess.DEVNULL
    if shell is not None:
        read_end, write_end = os.pipe()
        argv = [*argv, *shell_argv(shell, prelude)]
    started = time.monotonic()
    try:
        proc = children.popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=write_end,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=preexec,
        )
    except BaseException:
        if shell is not None:
            os.close(read_end)
        raise
    finally:
        if shell is not None:
            os.close(write_end)
    assert proc.stdout is not None and proc.stderr is not None
    if on_start is not None:
        on_start(proc.pid)
    sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    if shell is not None:
        sinks[read_end] = mark
    try:
        timed_out = _collect(proc, sinks, deadline=started + timeout_s)
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM, SIGHUP: harness.signals) or failed while the
        # command runs: nothing of it may go on writing into the project.
        kill_group(proc.pid)
        proc.wait()
        kill_group(proc.pid)
        raise
    finally:
        proc.stdout.close()
        proc.stderr.close()
        if shell is not None:
            os.close(read_end)
        if proc.returncode is not None:
            children.done(proc.pid)
    return ProcessOutcome(
        returncode=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        started=None if shell is None else bool(mark.text()),
    )


def run_limited(
    argv: list[str],
    command: str,
    limits: Resources,
    *,
    limited: bool,
    cwd: Path,
    env: dict[str, str],
    max_file_mb: int | None,
    max_output_bytes: int,
    on_start: Callable[[int], None] | None = None,
    prelude: str = "",
) -> ProcessOutcome:
    """``command`` run by ``/bin/sh`` after ``argv`` (bwrap, prlimit: ``limited`` when
    prlimit, or the shell's ``prelude``, sets the limits, else they are set between fork
    and exec), watched for its start (:func:`run_process`)."""
    return run_process(
        argv,
        cwd=cwd,
        env=env,
        timeout_s=limits.timeout_s,
        max_output_bytes=max_output_bytes,
        preexec=None if limited else functools.partial(set_limits, limits, max_file_mb=max_file_mb),
        shell=command,
        on_start=on_start,
        prelude=prelude,
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
                    for fd in reading:  # background children hold these: stop reading,
                        _take_buffered(fd, sinks[fd])  # but keep what the pipe holds
                    break
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


def _take_buffered(fd: int, sink: TailBuffer) -> None:
    """What the pipe holds now, read without waiting for a writer that keeps it open.

    Everything the command wrote before its exit is in the pipe by then (a writer blocks
    while the pipe is full), so a harness that was slow to read (a loaded machine: more
    than ``DRAIN_S`` between seeing the exit and reading) loses none of it. At most the
    pipe's capacity is read: a background child that goes on writing cannot hold it.
    """
    left = _capacity(fd)
    os.set_blocking(fd, False)
    while left > 0:
        try:
            chunk = os.read(fd, min(left, 65536))
        except BlockingIOError:
            return
        if not chunk:
            return
        sink.write(chunk)
        left -= len(chunk)


def _capacity(fd: int) -> int:
    """The pipe's capacity in bytes (Linux: F_GETPIPE_SZ); 1 MiB, the usual maximum, else."""
    try:
        return int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))
    except (AttributeError, OSError):
        return MB


def _pidfd(pid: int) -> int | None:
    """A pidfd for ``pid`` (Linux 5.3+), or None: then the exit is polled every 50 ms."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


_NAMES = {
    resource.RLIMIT_AS: ("memory_mb", MB, "ulimit -Hv"),
    resource.RLIMIT_CPU: ("timeout_s", 1, "ulimit -Ht"),
    resource.RLIMIT_FSIZE: ("max_file_mb", MB, "ulimit -Hf"),
    resource.RLIMIT_NPROC: ("pids", 1, "ulimit -Hu"),
}


def ungrantable(
    limits: Resources,
    defaults: Resources,
    *,
    max_file_mb: int | None,
    runner: str,
    pids: int | None = None,
) -> Failure | None:
    """Whether the limits can be set at all: a limit above this process's own hard limit
    (``ulimit -H``) cannot be given to any command, and prlimit would fail for every one.

    Above it in what the agent declared (``request_resources``): a Failure the agent reads,
    naming the most it can have. Above it in the run's own settings (``[runner]``, which
    no command of the agent can change): RunnerError, so the run parks with the cause
    instead of every command failing on the agent's budget.
    """
    wanted = _values(limits, max_file_mb)
    if pids is not None:
        wanted[resource.RLIMIT_NPROC] = (pids, pids)
    for which, (_, want) in wanted.items():
        hard = resource.getrlimit(which)[1]
        if hard == resource.RLIM_INFINITY or want <= hard:
            continue
        field, unit, command = _NAMES[which]
        most = hard // unit - (2 if which == resource.RLIMIT_CPU else 0)  # CPU: timeout + 2
        if field == "max_file_mb" or getattr(limits, field) == getattr(defaults, field):
            value = max_file_mb if field == "max_file_mb" else getattr(limits, field)
            raise RunnerError(
                f"[runner] {field} = {value:g} is more than the {runner} runner can give any "
                f"command: harness itself runs under a hard limit of {most:g} "
                f"({command} says so), and a limit cannot be raised above it.",
                kind="limits",
                suggestion=f"Lower [runner] {field} in harness.toml to at most {most:g}, or "
                "start harness without that hard limit; then `harness run` resumes the step.",
            )
        return Failure(
            kind="sandbox",
            message=f"{field}={getattr(limits, field):g} is more than this machine can grant: "
            f"harness itself runs under a hard limit of {most:g}",
            suggestion=f"call request_resources with {field} <= {most:g}, or ask_human to "
            "raise the limit harness runs under",
            limit=f"{field}={most:g}",
        )
    return None


def did_not_start(
    outcome: ProcessOutcome, limits: Resources, defaults: Resources, *, what: str
) -> Failure | None:
    """The shell never started (``outcome.started`` False): with the agent's own declared
    resources a Failure it reads (they may be too small to start a shell); with the run's
    own, a fault of the machine: RunnerError, the run parks with the cause."""
    if outcome.started is not False or outcome.timed_out:
        return None
    said = (outcome.stderr.strip().splitlines() or [f"exit {outcome.returncode}"])[-1][:300]
    if limits != defaults:
        return Failure(
            kind="sandbox",
            message=f"the command could not start under the resources you declared: {said}",
            suggestion="request other resources (request_resources) and rerun, or ask_human",
        )
    raise RunnerError(
        f"{what} could not start a command on this machine: {said}.",
        kind="sandbox_failed",
        suggestion="This is the machine's setup, not the agent's work: fix it (`harness "
        "doctor` checks the runner), then `harness run` resumes the step that was running.",
    )
