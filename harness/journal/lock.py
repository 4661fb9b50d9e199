"""The run lock: one driving process per run, released by the kernel if the holder dies."""

from __future__ import annotations

from pathlib import Path

from harness.errors import RunLocked
from harness.pidlock import Held, PidLock


class RunLock:
    """An exclusive ``flock`` on ``<state_dir>/locks/<run>.lock`` holding the driver's pid."""

    def __init__(self, path: Path, run_id: str, held: PidLock | None = None) -> None:
        self.path = path
        self.run_id = run_id
        self._held = held

    @classmethod
    def acquire(cls, state_dir: Path, run_id: str) -> RunLock:
        """Take the lock or raise RunLocked naming the pid that holds it."""
        path = state_dir / "locks" / f"{run_id}.lock"
        try:
            held = PidLock.take(path)
        except Held as error:
            raise RunLocked(
                f"run {run_id} is being driven by another process (pid {error.pid}); "
                "wait for it to finish or stop it, then try again"
            ) from None
        return cls(path, run_id, held)

    @staticmethod
    def holder(state_dir: Path, run_id: str) -> int | None:
        """The pid driving ``run_id`` now, or None if nobody holds its lock."""
        return PidLock.holder(state_dir / "locks" / f"{run_id}.lock")

    def release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None
