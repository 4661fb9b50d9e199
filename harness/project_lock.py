"""One `harness run` at a time in a project.

`harness run` holds ``.harness/locks/run.lock`` (a :class:`~harness.pidlock.PidLock`:
the kernel's ``flock``, released when its holder dies) from before it reads or writes
anything until it ends; `harness demo` holds it while it writes its project's files and
runs its init (a run then would write them again and finish that init itself). Without
it, two runs started at the same instant on a project with no unfinished run each found
none and each started a run of its own in the same work tree (each run's own lock,
``harness.journal.lock``, only stops a second driver of the same run). A second one is
refused (exit 6) naming the holder's pid, having written nothing.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from harness.errors import RunLocked
from harness.pidlock import Held, PidLock

STATE = Path(".harness")
LOCK = STATE / "locks" / "run.lock"


def already_running(root: Path, pid: object) -> RunLocked:
    """RunLocked (exit 6) saying another process runs `harness run` (or `harness demo`,
    setting up its project) in ``root``."""
    shown = "unknown" if pid in (-1, "unknown") else pid
    return RunLocked(
        f"{root} is busy: `harness run` or `harness demo` is already running in it in another "
        f"process (pid {shown}): wait for it to finish (or stop it), then try again"
    )


def live_run(root: Path) -> int | None:
    """The pid holding ``root``'s run lock now (-1 if unknown), else None (also when the
    lock's file cannot be read: no run could have taken it either)."""
    try:
        return PidLock.holder(root / LOCK)
    except OSError:
        return None


class ProjectLock:
    """The run lock of a project, held by this process until :meth:`release`."""

    def __init__(self, root: Path, held: PidLock | None, made: bool) -> None:
        self.root = root
        self._held = held
        self._made = made  # .harness did not exist before the lock

    @classmethod
    def hold(cls, root: Path) -> ProjectLock:
        """Take the lock for this process; RunLocked (exit 6) while another holds it. Where
        no lock can be made (`.harness` a file, read-only, a full disk) no run can be
        started either: none is held, and the run goes on to say what is wrong."""
        made = not (root / STATE).exists()
        try:
            return cls(root, PidLock.take(root / LOCK), made)
        except Held as error:
            raise already_running(root, error.pid) from None
        except OSError:
            if made:
                _remove_empty(root)
            return cls(root, None, made)

    def release(self) -> None:
        """Let go; a `.harness` the lock made and nothing else used (the run was refused
        before its journal: "not initialised", a bad config) is removed with it."""
        if self._held is None:
            return
        if self._made and _only_the_lock(self.root):
            self._held.discard()
            _remove_empty(self.root)
        else:
            self._held.release()
        self._held = None


def _only_the_lock(root: Path) -> bool:
    try:
        return [p.name for p in (root / STATE).iterdir()] == [LOCK.parent.name] and [
            p.name for p in (root / LOCK.parent).iterdir()
        ] == [LOCK.name]
    except OSError:
        return False


def _remove_empty(root: Path) -> None:
    for folder in (root / LOCK.parent, root / STATE):
        with suppress(OSError):  # not empty: another process's since
            folder.rmdir()
