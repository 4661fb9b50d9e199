"""The runner interface: declared resources, typed failures, results, and the protocol.

A ``Runner`` executes one shell command in the project and returns a ``CommandResult``.
Infrastructure failures of that command (out of memory, time limit, a preempted
container) are *values* in ``CommandResult.failure``, for the agent to read and act on;
only a runner that cannot run anything at all (daemon unreachable, image missing)
raises ``harness.errors.RunnerError``.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Phase = Literal["setup", "agent"]
FailureKind = Literal[
    "oom", "timeout", "killed", "gone", "daemon_unreachable", "image_missing", "sandbox"
]


class Resources(BaseModel):
    """What one workload may use; the defaults are those of ``[runner]`` in harness.toml."""

    model_config = ConfigDict(extra="forbid")

    memory_mb: int = Field(default=2048, gt=0, description="memory limit in MiB (no swap)")
    cpus: float = Field(default=1.0, gt=0, description="CPU cores (fractions allowed)")
    pids: int = Field(default=256, gt=0, description="maximum number of processes and threads")
    gpus: int = Field(default=0, ge=0, description="GPUs requested from the engine (0: none)")
    timeout_s: float = Field(default=600.0, gt=0, description="wall-clock limit of one command")
    network: bool = Field(default=False, description="network access (off: loopback only)")

    def container_key(self) -> tuple[int, float, int, int, bool]:
        """The fields fixed when a container starts (the time limit is per command)."""
        return (self.memory_mb, self.cpus, self.pids, self.gpus, self.network)


class Failure(BaseModel):
    """An infrastructure failure of one command, in words the agent can act on."""

    kind: FailureKind
    message: str
    suggestion: str
    limit: str | None = None
    peak_memory_mb: float | None = None


class CommandResult(BaseModel):
    """The outcome of one command; ``exit_code`` is None when it never finished."""

    command: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    failure: Failure | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """True when the command finished with exit code 0 and no failure."""
        return self.failure is None and self.exit_code == 0


@runtime_checkable
class Runner(Protocol):
    """Runs shell commands in a project.

    ``name`` says which backend runs them; ``sandboxed`` is False for the local runner.
    """

    name: str
    sandboxed: bool

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
        """Run ``command`` with ``sh -c`` in ``cwd`` (relative to the project root).

        Args:
            command: shell command text.
            resources: declared limits; None means the runner's defaults.
            phase: "setup" (init.sh; may have network) or "agent" (no network by default).
            fresh: run in a new container rather than the session's.
            env: extra environment variables.
            cwd: working directory relative to the project root.

        Returns:
            The result; infrastructure failures are in ``failure``.

        Raises:
            RunnerError: nothing can run (daemon unreachable, image missing).
        """
        ...

    def describe(self) -> str:
        """One line saying which runner this is and why it was chosen."""
        ...

    def close(self) -> None:
        """Release containers and processes; the runner may not be used afterwards."""
        ...
