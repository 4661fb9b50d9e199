"""Failure classification: turn what the engine or the OS reports into a typed ``Failure``.

Each failure names the limit that was hit and says, in plain words, what to do next.
Errors that stop the runner itself (daemon, image) are ``RunnerError`` values with a
``kind`` and a ``suggestion``.
"""

from __future__ import annotations

import signal

from harness.errors import RunnerError
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
) -> Failure | None:
    """Classify a local subprocess: time limit, address-space limit, or nothing."""
    if timed_out:
        return timeout(timeout_s)
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return timeout(timeout_s, cpu=True)
    if returncode in (None, 0):
        return None
    tail = stderr[-4000:]
    if any(marker in tail for marker in OOM_MARKERS) or returncode == -signal.SIGKILL:
        return oom(memory_mb, where="process (address-space limit)")
    return None
