"""No process of a command outlives it in the Docker session container.

The bubblewrap runner gives each command its own PID namespace; the Docker runner keeps
one session container and ``exec``s each command in it, so a process the command leaves
behind (``cmd &``, ``setsid``, ``nohup``, a double fork) would keep running between
commands: it could recreate a protected path that does not exist yet (a bind cannot
guard it) during the next ``verify_feature``, or rewrite the workspace while a check
runs. The rule here, by construction:

1. **The keepalive is out of reach.** The session container's own processes (docker-init
   and the ``sleep`` loop) run as a uid of their own (``keepalive_user``, 65534 unless
   that is the runner's); commands are ``exec``'d as ``runner.user``. Without
   ``CAP_KILL`` (all capabilities are dropped) a command can neither signal nor ptrace
   them.
2. **Fast path, no extra round trip.** ``WRAPPER`` runs the command as a child shell;
   when that child ends, it looks for any other process it may signal (``kill -0``: the
   command's leftovers, nothing else) and sends ``kill -9 -1`` (every process of the user
   but itself; atomic against forks: the kernel holds the task list while it signals). It
   then exits with the command's status. Ending the leftovers also closes the output pipes
   they held, so the exec ends when the command does (the engine otherwise waits about
   2 s for a detached child holding stdout). The wrapper's trailer is the note's source
   only: a command can kill or ptrace its wrapper (same uid), so it is not trusted.
3. **The check the command cannot touch.** After every exec the runner lists the
   container's tasks *from the host*, in the container's cgroup (``HostView``: the
   pids controller's ``tasks`` on cgroup v1, ``cgroup.threads`` on v2; membership is
   inherited by every fork and a container cannot leave its cgroup), and reads each
   task's uids from ``/proc``. Any task not of the keepalive uid is a leftover (a
   person's own ``docker exec`` into the session container counts too: as root it
   cannot be killed by the runner's user, so the container is replaced). This costs
   about 0.1 ms. Where the host's view is not available (a remote engine, a harness in
   another PID namespace) the engine's ``top`` serves instead (about 17 ms per command
   measured here: over the 10% target, so only as a fallback).
4. **Slow path.** Leftovers the wrapper did not end (it was killed, stopped or traced):
   after a short grace for tasks already dying, a second exec ``kill -9 -1`` as the
   runner's user; if tasks still remain after that, the runner removes the session
   container (the next command starts a new one). Measured: 0.1 to 0.25 s more than the
   command; about 2 s more when a leftover also held the command's output open (the
   engine waits that long for the output to close before it ends the exec).

Weighed and not chosen: a second exec after every command (about 50 ms, doubling the
cost of a trivial command) and ``top`` after every command (about 17 ms, +30%); a PID
namespace per command (needs ``CAP_SYS_ADMIN``, dropped). Measured on this machine:
the engine's exec round trip is about 50 ms; the wrapper costs about 1 ms.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from runners import docker_support as ds

if TYPE_CHECKING:
    from docker import APIClient

KEEPALIVE_UIDS = (65534, 65533)
# $1 the command, $2 the mark printed on stderr when the command left processes behind.
WRAPPER = """sh -c "$1"; s=$?
l=
for d in /proc/[0-9]*; do p=${d#/proc/}; case $p in 1|$$) ;; *) kill -0 "$p" 2>/dev/null && { l=1; break; } ;; esac; done
kill -9 -1 2>/dev/null
[ -z "$l" ] || printf %s "$2" >&2
exit $s"""  # noqa: E501
Reaped = Literal["clean", "stopped", "restart"]
NOTE = (
    "processes this command left running (background jobs, daemons) were stopped when it "
    "ended: every command's processes end with it"
)


def keepalive_user(user: str) -> str:
    """A uid:gid for the session container's own processes, never the runner's uid.

    (``runner.user`` is numeric in practice: a name cannot start a container today, the
    tmpfs ``uid=`` options need numbers.)
    """
    uid = user.partition(":")[0]
    keeper = next(c for c in KEEPALIVE_UIDS if not uid.isdigit() or c != int(uid))
    return f"{keeper}:{keeper}"


def wrapped(command: str) -> tuple[list[str], str]:
    """The argv that runs ``command`` under the wrapper, and the wrapper's mark."""
    mark = f"[harness-left-{uuid.uuid4().hex}]"
    return ["sh", "-c", WRAPPER, "sh", command, mark], mark


def strip_mark(stderr: str, mark: str) -> tuple[str, bool]:
    """``stderr`` without the wrapper's mark at its end; whether the mark was there."""
    if stderr.endswith(mark):
        return stderr[: -len(mark)], True
    return stderr, False


@dataclass(frozen=True)
class HostView:
    """The container's tasks as the host sees them (its cgroup, ``/proc``)."""

    tasks: Path
    keeper_uid: int

    @classmethod
    def find(cls, pid: int) -> HostView | None:
        """The view of the container whose init has host pid ``pid``; None if not visible."""
        try:
            candidates = ds.host_cgroup_files(pid, "pids", "tasks", "cgroup.threads")
            keeper = _uids(pid)
        except (OSError, ValueError):
            return None
        for tasks in candidates:
            with contextlib.suppress(OSError, ValueError):
                if pid in _read_ids(tasks) and keeper is not None and len(set(keeper)) == 1:
                    return cls(tasks=tasks, keeper_uid=keeper[0])
        return None

    def leftovers(self) -> list[int]:
        """Host ids of tasks not of the keepalive uid (OSError: the cgroup is gone)."""
        found = []
        for task in _read_ids(self.tasks):
            uids = _uids(task)
            if uids is not None and set(uids) != {self.keeper_uid}:
                found.append(task)
        return found


def _read_ids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()]


def _uids(task: int) -> list[int] | None:
    """Real, effective, saved and filesystem uid of a task; None once it has gone."""
    try:
        status = Path(f"/proc/{task}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Uid:"):
            return [int(word) for word in line.split()[1:]]
    return None


def leftovers_by_top(api: APIClient, container_id: str, init_pid: int) -> list[int]:
    """The same question through the engine (``top``) when the host's view is missing."""
    listing = api.top(container_id, ps_args="-o pid,uid")
    rows = [(int(row[0]), row[1]) for row in listing.get("Processes") or []]
    keeper = next((uid for pid, uid in rows if pid == init_pid), None)
    return [pid for pid, uid in rows if uid != keeper]


def watch(
    api: APIClient, container_id: str, view: HostView | None, init_pid: int
) -> Callable[[], list[int]]:
    """A look at the container's leftovers: from the host where it can, else ``top``."""

    def look() -> list[int]:
        try:
            if view is not None:
                return view.leftovers()
            return leftovers_by_top(api, container_id, init_pid)
        except OSError:
            return []  # the container's cgroup is gone, and with it every process
        except Exception:  # the engine could not list them: assume the worst
            return [-1]

    return look


def end_leftovers(
    api: APIClient,
    container_id: str,
    user: str,
    look: Callable[[], list[int]],
    *,
    grace_s: float = 0.05,
    wait_s: float = 2.0,
) -> Reaped:
    """Make sure no task of the commands remains: "clean" (none were left), "stopped"
    (the second exec ended them) or "restart" (they would not end: remove the container).
    """
    if not _gone(look, grace_s):
        ds.kill_all(api, container_id, user)
        return "stopped" if _gone(look, wait_s) else "restart"
    return "clean"


def _gone(look: Callable[[], list[int]], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while True:
        if not look():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
