"""A live `harness init`, known from its first write, not from what it has recorded.

`harness init` holds ``.harness/locks/init.lock`` from before it writes anything (its
harness.toml) until it ends; `harness run` finishing an interrupted init holds it the same
way. Its run in the journal comes later (after the model's check, the journal's opening, the
run's lock): a command that looked only there took an init in flight for "not initialised"
or for "interrupted". The lock is the kernel's (``flock``): a killed init's file is left
behind unheld and blocks nobody.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from harness.errors import ArtifactError, RunLocked
from harness.pidlock import Held, PidLock

LOCK = Path(".harness") / "locks" / "init.lock"


def still_running(root: Path, pid: object) -> RunLocked:
    """RunLocked (exit 6) saying the init of ``root`` runs in process ``pid``."""
    shown = "unknown" if pid in (-1, "unknown") else pid
    return RunLocked(
        f"`harness init` of {root} is still running (pid {shown}), not interrupted: "
        "wait for it to finish (or stop it), then run `harness run`"
    )


def live_init(root: Path) -> int | None:
    """The pid of the `harness init` live in ``root`` now (-1 if unknown), else None (also
    when the lock's file cannot be read: no init could have taken it either)."""
    try:
        return PidLock.holder(root / LOCK)
    except OSError:
        return None


def refuse_beside_live_init(root: Path) -> None:
    """RunLocked (exit 6) while an init of ``root`` runs in another process."""
    pid = live_init(root)
    if pid is not None:
        raise still_running(root, pid)


def hold_init(root: Path) -> PidLock:
    """The init lock of ``root``, taken for this process (release it when the init ends);
    RunLocked (exit 6) while another process holds it."""
    try:
        return PidLock.take(root / LOCK)
    except Held as error:
        raise still_running(root, error.pid) from None
    except OSError as error:  # `.harness` a file, a read-only folder, a full disk
        raise ArtifactError(
            str(LOCK),
            "",
            f"cannot be written ({error.strerror or error})",
            "harness keeps its state in the folder .harness: make it a folder harness can "
            "write (free space, permissions), then run the command again.",
        ) from None


def drop_init(root: Path, held: PidLock) -> None:
    """An init stopped before it recorded anything (its model's setup refused) leaves no
    harness state: the lock's file goes, then its folders if nothing else is in them."""
    held.discard()
    for folder in ((root / LOCK).parent, (root / LOCK).parent.parent):
        with suppress(OSError):  # not empty (the journal was opened): kept
            folder.rmdir()
