"""The runner interface: declared resources, typed failures, results, and the protocol.

A ``Runner`` executes one shell command in the project and returns a ``CommandResult``.
Infrastructure failures of that command (out of memory, time limit, a preempted
container) are *values* in ``CommandResult.failure``, for the agent to read and act on;
only a runner that cannot run anything at all (daemon unreachable, image missing)
raises ``harness.errors.RunnerError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from artifacts.config import RunnerConfig

Phase = Literal["setup", "agent"]
FailureKind = Literal[
    "oom", "timeout", "killed", "gone", "daemon_unreachable", "image_missing", "sandbox", "disk"
]


# The one place the runners' defaults are written is ``RunnerConfig`` (``[runner]`` in
# harness.toml, artifacts/config.py); everything here reads them from it.
DEFAULTS = RunnerConfig()
PREEMPTION_ATTEMPTS = 3  # a command killed or removed from outside runs at most this often


class RunnerSettings(Protocol):
    """The fields of ``[runner]`` that the runners read (``artifacts.config.RunnerConfig``)."""

    @property
    def kind(self) -> Literal["auto", "docker", "bwrap", "local"]: ...
    @property
    def image(self) -> str: ...
    @property
    def memory_mb(self) -> int: ...
    @property
    def cpus(self) -> float: ...
    @property
    def pids(self) -> int: ...
    @property
    def gpus(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def network(self) -> bool: ...
    @property
    def setup_network(self) -> bool: ...
    @property
    def max_memory_mb(self) -> int: ...
    @property
    def max_cpus(self) -> float: ...
    @property
    def max_timeout_s(self) -> float: ...
    @property
    def disk_mb(self) -> int: ...
    @property
    def max_file_mb(self) -> int: ...
    @property
    def user(self) -> str: ...
    @property
    def package_cache(self) -> bool: ...
    @property
    def etc(self) -> list[str]: ...


class Resources(BaseModel):
    """What one workload may use; the defaults are those of ``[runner]`` in harness.toml."""

    model_config = ConfigDict(extra="forbid")

    memory_mb: int = Field(
        default=DEFAULTS.memory_mb, gt=0, description="memory limit in MiB (no swap)"
    )
    cpus: float = Field(default=DEFAULTS.cpus, gt=0, description="CPU cores (fractions allowed)")
    pids: int = Field(
        default=DEFAULTS.pids, gt=0, description="maximum number of processes and threads"
    )
    gpus: int = Field(
        default=DEFAULTS.gpus, ge=0, description="GPUs requested from the engine (0: none)"
    )
    timeout_s: float = Field(
        default=DEFAULTS.timeout_s, gt=0, description="wall-clock limit of one command"
    )
    network: bool = Field(
        default=DEFAULTS.network, description="network access (off: loopback only)"
    )

    @classmethod
    def of(cls, config: RunnerSettings) -> Resources:
        """The default resources of a run: ``memory_mb``, ``cpus``, ... of ``[runner]``."""
        return cls(
            memory_mb=config.memory_mb,
            cpus=config.cpus,
            pids=config.pids,
            gpus=config.gpus,
            timeout_s=config.timeout_s,
            network=config.network,
        )

    @classmethod
    def maxima(cls, config: RunnerSettings) -> Resources:
        """The most the agent may ask for without a human: ``max_memory_mb``, ... of [runner]."""
        return cls.of(config).model_copy(
            update={
                "memory_mb": config.max_memory_mb,
                "cpus": config.max_cpus,
                "timeout_s": config.max_timeout_s,
            }
        )

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
    note: str | None = None  # the runner's remark for the agent (e.g. leftovers stopped)

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
        tree: Path | None = None,
        cache: bool = False,
    ) -> CommandResult:
        """Run ``command`` with ``sh -c`` in ``cwd`` (relative to the project root).

        Args:
            command: shell command text.
            resources: declared limits; None means the runner's defaults.
            phase: "setup" (init.sh; may have network) or "agent" (no network by default).
            fresh: run in a new container rather than the session's.
            env: extra environment variables.
            cwd: working directory relative to the project root.
            tree: a folder mounted where the project is, instead of the project (a clean
                checkout), with the project's ``.git`` read-only; sandboxes only (the
                local runner raises ValueError).
            cache: the command may read and write the project's package cache
                (``[runner] package_cache``: ``$HOME/.cache`` kept between wakes). Only
                for a trusted setup on a clean checkout (``tree``): what writes the cache
                is never the agent's code. A runner without one ignores it.

        Returns:
            The result; infrastructure failures are in ``failure``.

        Raises:
            RunnerError: nothing can run (daemon unreachable, image missing).
        """
        ...

    def describe(self) -> str:
        """One line saying which runner this is and why it was chosen."""
        ...

    def stop(self) -> None:
        """End every process the session's commands started (before writeback).

        The runner stays usable: the next command starts a new sandbox or container.
        """
        ...

    def close(self) -> None:
        """Release containers and processes; the runner may not be used afterwards."""
        ...
