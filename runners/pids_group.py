"""The ``pids`` limit by a cgroup, for commands that run as root.

The kernel exempts processes whose real user is root from ``RLIMIT_NPROC``, so with the
harness run as root on a project that belongs to root (bubblewrap runs every other
project's commands as its owner: runners/bwrap_view.py), the rlimit bounds nothing and a
fork bomb ran until the time limit. Root can make cgroups: each command gets a group of
the ``pids`` controller of its own, made below this process's own group with ``pids.max``
set, and its first process joins it before it starts bwrap (``sh -c 'echo 0 > tasks
&& exec "$@"'``: :data:`JOIN`), so every process of the sandbox counts; the group is
removed after the command, or at the next one while the sandbox's processes are still
leaving it (what is still in it is killed).

:func:`base` finds where a group can be made: cgroup v1's ``pids`` hierarchy, or cgroup
v2 where this process's group hands ``pids`` down (``cgroup.subtree_control``). None when
neither can be written (a container with a read-only ``/sys/fs/cgroup``, cgroup v2 with
the controller not given to this group): then ``pids`` is not enforced for root's
commands, and the runner says so.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from runners.process import pid_alive

PREFIX = "harness-pids-"
JOIN = 'echo 0 > "$0" && exec "$@"'
"""The shell that puts itself in the group (``$0``: the file that takes it), then execs.
``0`` is the writer itself: on cgroup v1 its ``tasks`` file moves that one thread without
the kernel's global lock of every thread group, whose taking waited for an RCU grace
period (``cgroup.procs`` cost ~10 ms a command; ``tasks`` nothing measurable). cgroup v2
has no ``tasks``: its ``cgroup.procs`` still pays that."""
REMOVE_S = 2.0
"""How long a runner that closes waits for its last groups to empty."""
_numbers = itertools.count()


def base() -> Path | None:
    """The folder of a ``pids`` cgroup this process may make groups in (its own group's),
    or None. Only root: for anyone else ``RLIMIT_NPROC`` holds."""
    if os.geteuid() != 0:
        return None
    for folder in _candidates():
        try:
            PidsGroup.make(folder, 1).remove()
        except OSError:
            continue
        return folder
    return None


def _candidates() -> list[Path]:
    """This process's group folder in each mounted hierarchy that has ``pids``."""
    try:
        own = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    groups: dict[str, str] = {}  # controller ("" for cgroup v2) -> path in its hierarchy
    for line in own:
        _, controllers, where = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            groups[controller] = where
    found: list[Path] = []
    for line in mounts:
        fields, _, tail = line.partition(" - ")
        parts, kind = fields.split(), tail.split()
        if len(parts) < 5 or len(kind) < 3:
            continue
        root, point = _unescape(parts[3]), _unescape(parts[4])
        if kind[0] == "cgroup" and "pids" in kind[2].split(","):
            path = groups.get("pids")
        elif kind[0] == "cgroup2":
            path = groups.get("")
        else:
            continue
        if path is None or not (path + "/").startswith(root.rstrip("/") + "/"):
            continue  # this process's group is not inside what is mounted there
        folder = Path(point) / path[len(root.rstrip("/")) :].lstrip("/")
        if kind[0] == "cgroup2" and "pids" not in _words(folder / "cgroup.subtree_control"):
            continue  # its groups would have no pids.max
        found.append(folder)
    return found


def _unescape(field: str) -> str:
    """A mountinfo field (spaces, tabs, newlines and backslashes as octal escapes)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


@dataclass
class PidsGroup:
    """One command's group: at most ``limit`` tasks (processes and threads) in it."""

    path: Path

    @classmethod
    def make(cls, folder: Path, limit: int) -> PidsGroup:
        """A new group in ``folder`` with ``pids.max`` = ``limit`` (OSError: not here)."""
        _sweep(folder)
        path = folder / f"{PREFIX}{os.getpid()}-{next(_numbers)}"
        path.mkdir()
        try:
            (path / "pids.max").write_text(f"{limit}\n")
        except OSError:
            path.rmdir()
            raise
        return cls(path)

    def prefix(self, shell: str) -> list[str]:
        """What starts a command in the group: ``shell -c JOIN <file> <argv...>``."""
        tasks = self.path / "tasks"  # cgroup v1's (one thread); v2 has cgroup.procs only
        return [shell, "-c", JOIN, str(tasks if tasks.exists() else self.path / "cgroup.procs")]

    def remove(self, wait_s: float = 0.0) -> bool:
        """Remove the group; False while tasks are still leaving it (bwrap has exited, but
        the processes of its PID namespace are still being torn down, about 10 ms): what
        is left is killed, and the caller tries again later (waiting: spent 10 ms a
        command). ``wait_s``: keep trying that long."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError as error:
                if error.errno != errno.EBUSY:
                    return True  # not removable here: a later sweep tries again
            for pid in _words(self.path / "cgroup.procs"):
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)  # the killed tasks leave the group as they are reaped


def _sweep(folder: Path) -> None:
    """Remove the groups a harness process left (killed mid-command) once it is gone."""
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            owner = path.name.removeprefix(PREFIX).split("-", 1)[0]
            if path.name.startswith(PREFIX) and owner.isdigit() and not pid_alive(int(owner)):
                with contextlib.suppress(OSError):
                    path.rmdir()
