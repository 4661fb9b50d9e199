"""Failure classification: turn what the engine or the OS reports into a typed ``Failure``.

Each failure names the limit that was hit and says, in plain words, what to do next.
Errors that stop the runner itself (daemon, image) are ``RunnerError`` values with a
``kind`` and a ``suggestion``.
"""

from __future__ import annotations

import signal

from harness.errors import RunnerError
from harness.walk import Unread, shown
from runners.base import Failure

MB = 1024 * 1024

# Text that processes print when an allocation fails under an address-space limit.
OOM_MARKERS = (
    "MemoryError",
    "Cannot allocate memory",
    "out of memory",
    "std::bad_alloc",
    "JavaScript heap out of memory",
    "java.lang.OutOfMemoryError",
)


def oom(limit_mb: int, peak_mb: float | None = None, *, where: str = "container") -> Failure:
    """The command was killed for memory (the engine's OOM flag or the kernel's OOM events)."""
    peak = f" (peak usage {peak_mb:.1f} MB)" if peak_mb else ""
    return Failure(
        kind="oom",
        message=f"out of memory: the {where} reached its memory limit of {limit_mb} MB{peak} "
        "and the command was killed",
        suggestion=f"call request_resources with memory_mb >= {limit_mb * 2} and rerun, "
        "or make the command use less memory",
        limit=f"memory_mb={limit_mb}",
        peak_memory_mb=peak_mb,
    )


def timeout(limit_s: float, *, cpu: bool = False) -> Failure:
    """The command ran past its time limit and was killed."""
    what = "CPU time" if cpu else "time"
    return Failure(
        kind="timeout",
        message=f"time limit: the command ran past its {what} limit of {limit_s:g} s "
        "and was killed with its child processes",
        suggestion=f"call request_resources with timeout_s >= {limit_s * 2:g} and rerun, "
        "or run a narrower command (one test file, fewer cases)",
        limit=f"timeout_s={limit_s:g}",
    )


def preempted(kind: str, attempts: int) -> Failure:
    """The container was killed or removed from outside on every attempt."""
    verb = "killed" if kind == "killed" else "removed"
    return Failure(
        kind="killed" if kind == "killed" else "gone",
        message=f"preempted: the container running the command was {verb} from outside "
        f"the harness on each of {attempts} attempts",
        suggestion="rerun the command; if it keeps happening, ask_human to check the "
        "Docker host (something is stopping containers)",
    )


def file_too_large(max_file_mb: int) -> Failure:
    """A process was stopped for writing a file past the per-file size limit."""
    return Failure(
        kind="disk",
        message=f"disk limit: the command tried to make a file larger than {max_file_mb} MB "
        "(the per-file limit) and was stopped",
        suggestion="write smaller files (or stream instead of storing), delete what is not "
        "needed, or ask_human to raise runner.max_file_mb",
        limit=f"max_file_mb={max_file_mb}",
    )


def disk_budget(disk_mb: int, used_mb: float) -> Failure:
    """The workspace holds more than its disk budget after the command."""
    return Failure(
        kind="disk",
        message=f"disk limit: the project now holds more than {disk_mb} MB "
        f"(at least {used_mb:.0f} MB of it on disk)",
        suggestion="delete the large or generated files the command left (build output, "
        "data, logs) before going on; nothing over the budget is committed",
        limit=f"disk_mb={disk_mb}",
    )


def disk_unmeasured(disk_mb: int, unreadable: list[Unread]) -> Failure:
    """Folders of the workspace the disk budget could not read: it fails closed."""
    named = "; ".join(f"{shown(path)} ({why})" for path, why, _ in unreadable[:3])
    more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
    return Failure(
        kind="disk",
        message=f"disk limit: the project's size cannot be checked against {disk_mb} MB: "
        f"the harness cannot read {named}{more}, so it counts as over the budget",
        suggestion="make those folders readable by their owner (chmod u+rwx) or remove "
        "them before going on",
        limit=f"disk_mb={disk_mb}",
    )


def protected_created(paths: list[str]) -> Failure:
    """The command created protected paths that did not exist; the runner removed them."""
    named = ", ".join(paths)
    return Failure(
        kind="sandbox",
        message=f"protected path(s) created by the command and removed again: {named} "
        "(the harness's state and [protect] paths are not the agent's to write)",
        suggestion="leave these paths alone; if the work needs them changed, ask_human",
    )


# What the shell or a tool prints when a child hits the file-size limit (SIGXFSZ, EFBIG).
FILE_LIMIT_MARKERS = ("File size limit exceeded", "File too large")


def file_limit_hit(stderr: str) -> bool:
    """True when stderr says a process ran into the per-file size limit."""
    tail = stderr[-4000:]
    return any(marker in tail for marker in FILE_LIMIT_MARKERS)


def daemon_unreachable(detail: str) -> RunnerError:
    return RunnerError(
        f"the Docker engine cannot be reached ({detail}).",
        kind="daemon_unreachable",
        suggestion="Start Docker (e.g. `sudo systemctl start docker` or `dockerd &`), check "
        'DOCKER_HOST, then run `harness doctor`; or set runner.kind = "local" '
        "(no sandbox) in harness.toml.",
    )


def image_missing(image: str) -> RunnerError:
    return RunnerError(
        f"the runner image {image!r} is not present on the Docker engine.",
        kind="image_missing",
        suggestion="Build it with `harness image build` (from the project's Dockerfile or "
        "the default template), or set runner.image in harness.toml to an image you have.",
    )


def local_failure(
    returncode: int | None,
    stderr: str,
    *,
    timed_out: bool,
    memory_mb: int,
    timeout_s: float,
    max_file_mb: int | None = None,
) -> Failure | None:
    """Classify a host subprocess: time limit, file-size limit, address-space limit, or none."""
    if timed_out:
        return timeout(timeout_s)
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return timeout(timeout_s, cpu=True)
    if max_file_mb is not None and (
        returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ) or file_limit_hit(stderr)
    ):
        return file_too_large(max_file_mb)
    if returncode in (None, 0):
        return None
    tail = stderr[-4000:]
    if any(marker in tail for marker in OOM_MARKERS) or returncode == -signal.SIGKILL:
        return oom(memory_mb, where="process (address-space limit)")
    return None
