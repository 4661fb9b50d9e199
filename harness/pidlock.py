"""An exclusive ``flock`` on a file that holds its holder's pid, released by the kernel when
the holder dies (so a lock file left by a killed process never blocks anyone): a run's lock
(``harness.journal.lock``) and the lock a live `harness init` holds from its first write
(``initializer.in_flight``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Held(Exception):
    """Another live process holds the lock; ``pid`` is what its file says ("unknown" if
    nothing readable)."""

    def __init__(self, pid: str) -> None:
        super().__init__(pid)
        self.pid = pid


class PidLock:
    """The lock on ``path`` this process holds (:meth:`take`), until :meth:`release`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, path: Path) -> PidLock:
        """Take the lock on ``path`` (its folder and file made if absent) and write this
        process's pid into it; :class:`Held` if another process holds it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # its folder removed since (by a lock's discard)
                path.parent.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise Held(holder) from None
            if _same_file(fd, path):
                break
            os.close(fd)  # its holder removed the file (discard) after this open: again
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    @staticmethod
    def holder(path: Path) -> int | None:
        """The pid holding the lock on ``path`` now (-1 if its file names none), or None if
        nobody holds it (no file, or a file its dead holder left)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):  # no such file: nobody holds it
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

    def discard(self) -> None:
        """Remove the lock's file, then release it (a taker that opened the file before is
        refused while it is held, and sees after that it holds a removed file)."""
        if self._fd is not None and _same_file(self._fd, self.path):
            self.path.unlink()
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
