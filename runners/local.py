"""LocalRunner: subprocesses on this machine, with rlimits and a process-group kill.

What a command leaves running (``cmd &``, ``nohup``, ``setsid``, a double fork) is found
through the harness's own process tree (:mod:`runners.reaper`: the harness is their
subreaper), and stopped at the session's end, never by a scan of every process.

Not a sandbox: commands see the whole file system and the network as the user running
the harness. It sets ``sandboxed = False``; a run or an init that uses it says
:data:`WARNING` through its events (a progress line, a ``notice`` on --json).
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

from harness.redact import is_secret_name
from runners import classify, disk, reaper
from runners.base import CommandResult, Phase, Resources
from runners.output import MAX_OUTPUT_BYTES
from runners.process import (
    dash_shell,
    did_not_start,
    limit_argv,
    limit_script,
    run_limited,
    shell_code,
    ungrantable,
)

log = logging.getLogger(__name__)

WARNING = (
    "WARNING: the local runner is NOT a sandbox: commands run as you, with your "
    'files and network. Use Docker (runner.kind = "docker") or bubblewrap '
    '(runner.kind = "bwrap") for untrusted work.'
)
# Every command carries this variable with the runner's token, so stop() can tell the
# processes a command left behind, even in other sessions (best effort: not a sandbox).
TOKEN_VAR = "HARNESS_LOCAL"


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
        disk_mb: int | None = None,
        max_file_mb: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(project_root).resolve()
        self.environ = environ
        """What commands start from: the run's environment without its secrets (None:
        ``os.environ`` less the variables with secret-looking names, at each command)."""
        self.resources = resources or Resources()
        self.setup_network = setup_network
        self.reason = reason
        self.max_output_bytes = max_output_bytes
        self.disk_mb = disk_mb
        self.disk = disk.DiskBudget(self.root, disk_mb)
        self.max_file_mb = max_file_mb
        self.token = uuid.uuid4().hex
        self._running: set[int] = set()  # the commands in flight (session = group = pid)
        self._tree = reaper.adopt_orphans()  # False: stop() scans /proc as before

    def describe(self) -> str:
        return (
            f"local runner (NOT a sandbox) in {self.root}: {self.reason}; its commands read "
            "every file you can: it cannot hide .env files or [protect] hide"
        )

    def run(
        self,
        command: str,
        *,
        resources: Resources | None = None,
        phase: Phase = "agent",
        fresh: bool = False,
        env: dict[str, str] | None = None,
        cwd: str = ".",
        tree: Path | None = None,
        cache: bool = False,  # no package cache: commands already use your own $HOME
    ) -> CommandResult:
        if tree is not None:
            raise ValueError("the local runner cannot mount another tree where the project is")
        limits = resources or self.resources
        workdir = (self.root / cwd).resolve()
        if not workdir.is_relative_to(self.root):
            raise ValueError(f"cwd {cwd!r} is outside the project")
        # Variables that hold secrets are not passed to commands: the names the run's
        # redactor hides (*KEY*, *TOKEN*, *AUTH*, ..., and `[model] api_key_env`).
        if self.environ is None:
            environment = {k: v for k, v in os.environ.items() if not is_secret_name(k)}
        else:
            environment = dict(self.environ)
        # The harness's own interpreter comes first on PATH, so `python` in a check is the
        # one harness runs under (with its test tools), not whatever else is on the machine.
        interpreter_dir = str(Path(sys.executable).parent)
        environment["PATH"] = os.pathsep.join([interpreter_dir, environment.get("PATH", "")])
        environment.update(env or {})
        environment[TOKEN_VAR] = self.token
        refused = ungrantable(limits, self.resources, max_file_mb=self.max_file_mb, runner="local")
        if refused is not None:
            return CommandResult(
                command=command, exit_code=None, stdout="", stderr="", duration_s=0.0,
                failure=refused,
            )  # fmt: skip
        # dash sets the limits itself (no prlimit to exec first), else prlimit, else preexec
        prelude = limit_script(limits, max_file_mb=self.max_file_mb, pids=None)
        prefix = [] if dash_shell() else limit_argv(limits, max_file_mb=self.max_file_mb)
        leaders: list[int] = []

        def begun(pid: int) -> None:
            leaders.append(pid)
            self._running.add(pid)

        try:
            outcome = run_limited(
                prefix or [],
                command,
                limits,
                limited=prefix is not None,
                prelude=prelude if dash_shell() else "",
                cwd=workdir,
                env=environment,
                max_file_mb=self.max_file_mb,
                max_output_bytes=self.max_output_bytes,
                on_start=begun,
            )
        finally:
            for leader in leaders:
                self._adopt(leader)
                self._running.discard(leader)
            reaper.collect()
        # prlimit (or the shell) could not start: the machine's fault, not the command's.
        started = did_not_start(outcome, limits, self.resources, what="the local runner")
        failure = started or classify.local_failure(
            outcome.returncode,
            outcome.stderr,
            timed_out=outcome.timed_out,
            memory_mb=limits.memory_mb,
            timeout_s=limits.timeout_s,
            max_file_mb=self.max_file_mb,
        )
        if failure is None:
            failure = self.disk.check()
        return CommandResult(
            command=command,
            exit_code=None if outcome.timed_out else shell_code(outcome.returncode),
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            duration_s=outcome.duration_s,
            failure=failure,
        )

    def _adopt(self, leader: int) -> None:
        """Claim what the finished command ``leader`` left running: re-parented to the
        harness when the command's shell exited, in its session or carrying the token."""
        if not self._tree:
            return
        marker = self._marker()
        for pid in reaper.orphans():
            if reaper.owner(pid) is not None:
                continue  # already claimed (this run's, or another run's in this worker)
            info = reaper.stat(pid)
            if info is not None and (info.session == leader or reaper.carries(pid, marker)):
                reaper.claim(pid, self.token)

    def _marker(self) -> bytes:
        return f"{TOKEN_VAR}={self.token}".encode()

    def stop(self) -> None:
        """Kill what the commands left running, and everything below it (best effort)."""
        marker = self._marker()
        if not self._tree:
            reaper.scan(marker)
            return
        for _ in range(5):  # a process may hand its work to a new one while it is stopped
            roots = [pid for pid in reaper.orphans() if self._ours(pid, marker)]
            if not roots:
                break
            killed = reaper.stop_family(roots)
            reaper.reap(killed, skip=self._running.__contains__)
            reaper.release(killed)

    def _ours(self, pid: int, marker: bytes) -> bool:
        """Whether the harness's child ``pid`` is this runner's: claimed by it, in one of
        its commands in flight, or carrying its token (another run's are passed over
        without a read)."""
        owner = reaper.owner(pid)
        if owner is not None:
            return owner == self.token
        info = reaper.stat(pid)
        return info is not None and (info.session in self._running or reaper.carries(pid, marker))

    def close(self) -> None:
        """Stop what is left; every command's process group is gone afterwards."""
        self.stop()
