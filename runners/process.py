"""One host subprocess with rlimits, a time limit and a process-group kill.

Shared by the local runner (``sh -c`` directly) and the bubblewrap runner (``bwrap ...
sh -c``): both set their limits between fork and exec, read both streams into tail
buffers, and kill the whole process group at the time limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from runners.base import Resources
from runners.output import TailBuffer

MB = 1024 * 1024


@dataclass
class ProcessOutcome:
    """What the process did; ``returncode`` is Popen's (negative: killed by that signal)."""

    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool


def set_limits(resources: Resources, *, max_file_mb: int | None) -> None:
    """Runs in the child between fork and exec: address space, CPU time, file size."""
    memory = resources.memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(resources.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if max_file_mb is not None:
        size = max_file_mb * MB  # also stops a sparse file (ftruncate past it: SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _pump(stream: IO[bytes], sink: TailBuffer) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        sink.write(chunk)
    stream.close()


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
    limits: Resources,
    max_file_mb: int | None,
    max_output_bytes: int,
) -> ProcessOutcome:
    """Run ``argv`` in a new session; SIGKILL its process group at ``limits.timeout_s``."""
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
        preexec_fn=lambda: set_limits(limits, max_file_mb=max_file_mb),
    )
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc.pid)
        proc.wait()
    if timed_out:
        kill_group(proc.pid)  # stragglers that escaped the first kill
    for pump in pumps:
        # Background children may hold the pipes open; do not wait for them forever.
        pump.join(timeout=1.0)
    return ProcessOutcome(
        returncode=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
    )
