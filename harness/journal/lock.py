"""The run lock: one driving process per run, released by the kernel if the holder dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from harness.errors import RunLocked


class RunLock:
    """An exclusive ``flock`` on ``<state_dir>/locks/<run>.lock`` holding the driver's pid."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._fd: int | None = None

    @classmethod
    def acquire(cls, state_dir: Path, run_id: str) -> RunLock:
        """Take the lock or raise RunLocked naming the pid that holds it."""
        lock = cls(state_dir / "locks" / f"{run_id}.lock", run_id)
        lock.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLocked(
                f"run {run_id} is being driven by another process (pid {holder}); "
                "wait for it to finish or stop it, then try again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        lock._fd = fd
        return lock

    @staticmethod
    def holder(state_dir: Path, run_id: str) -> int | None:
        """The pid driving ``run_id`` now, or None if nobody holds its lock."""
        path = state_dir / "locks" / f"{run_id}.lock"
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 32, 0).decode(errors="replace").strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
