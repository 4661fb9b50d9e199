"""LocalRunner: subprocesses on this machine, with rlimits and a process-group kill.

Not a sandbox: commands see the whole file system and the network as the user running
the harness. It says so loudly, once per process, and sets ``sandboxed = False``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from runners import classify
from runners.base import CommandResult, Phase, Resources
from runners.output import MAX_OUTPUT_BYTES, TailBuffer

log = logging.getLogger(__name__)

WARNING = (
    "harness: WARNING: the local runner is NOT a sandbox: commands run as you, with your "
    'files and network. Use Docker (runner.kind = "docker") for untrusted work.'
)
# Variables that look like secrets are not passed to commands (the model's API key, ...).
SECRET_NAME = re.compile(r"(API_KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_warned = False
_warn_lock = threading.Lock()


def warn_not_sandboxed() -> None:
    """Print and log the not-a-sandbox warning, once per process."""
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    print(WARNING, file=sys.stderr)  # printed, not logged: logging's fallback would repeat it


def _limits(resources: Resources) -> None:
    """Runs in the child between fork and exec: address space and CPU time."""
    memory = resources.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(resources.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _pump(stream: IO[bytes], sink: TailBuffer) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        sink.write(chunk)
    stream.close()


def _shell_code(returncode: int) -> int:
    """A signal death as the shell reports it (128 + signal), like Docker does."""
    return 128 - returncode if returncode < 0 else returncode


class LocalRunner:
    """Runs commands with ``sh -c`` in the project directory, in a new process group."""

    name = "local"
    sandboxed = False

    def __init__(
        self,
        project_root: Path,
        *,
        resources: Resources | None = None,
        setup_network: bool = True,
        reason: str = 'configured (runner.kind = "local")',
        max_output_bytes: int = MAX_OUTPUT_BYTES,
        warn: bool = True,
    ) -> None:
        self.root = Path(project_root).resolve()
        self.resources = resources or Resources()
        self.setup_network = setup_network
        self.reason = reason
        self.max_output_bytes = max_output_bytes
        if warn:
            warn_not_sandboxed()

    def describe(self) -> str:
        return f"local runner (NOT a sandbox) in {self.root}: {self.reason}"

    def run(
        self,
        command: str,
        *,
        resources: Resources | None = None,
        phase: Phase = "agent",
        fresh: bool = False,
        env: dict[str, str] | None = None,
        cwd: str = ".",
    ) -> CommandResult:
        limits = resources or self.resources
        workdir = (self.root / cwd).resolve()
        if not workdir.is_relative_to(self.root):
            raise ValueError(f"cwd {cwd!r} is outside the project")
        environment = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}
        # The harness's own interpreter comes first on PATH, so `python` in a check is the
        # one harness runs under (with its test tools), not whatever else is on the machine.
        interpreter_dir = str(Path(sys.executable).parent)
        environment["PATH"] = os.pathsep.join([interpreter_dir, environment.get("PATH", "")])
        environment.update(env or {})
        out, err = TailBuffer(self.max_output_bytes), TailBuffer(self.max_output_bytes)
        started = time.monotonic()
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=lambda: _limits(limits),
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
            self._kill_group(proc.pid)
            proc.wait()
        if timed_out:
            self._kill_group(proc.pid)  # stragglers that escaped the first kill
        for pump in pumps:
            # Background children may hold the pipes open; do not wait for them forever.
            pump.join(timeout=1.0)
        duration = time.monotonic() - started
        stderr = err.text()
        failure = classify.local_failure(
            proc.returncode,
            stderr,
            timed_out=timed_out,
            memory_mb=limits.memory_mb,
            timeout_s=limits.timeout_s,
        )
        return CommandResult(
            command=command,
            exit_code=None if timed_out else _shell_code(proc.returncode),
            stdout=out.text(),
            stderr=stderr,
            duration_s=duration,
            failure=failure,
        )

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def close(self) -> None:
        """Nothing to release: every command's process group is gone or detached."""
