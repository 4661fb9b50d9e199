"""Whether the kernel killed a command for memory in its container: the cgroup's own count.

The engine's signs of an OOM race with the command's end. Its ``oom`` event travels from
the shim to the daemon on its own, and the daemon keeps only a short history of events
(the last 256): on a busy engine the event of a command's OOM was measured gone from the
history half a second later, so a question asked after the exec ended missed it
(``docker_runner._classify_kill`` asked so until this module). A container's
``OOMKilled`` flag is set only when that event reaches the daemon before the container's
exit. CI met both under load: an OOM came back as a plain exit 137, "Killed".

The kernel's count does not race: the memory cgroup's ``oom_kill`` counter
(``memory.oom_control`` on cgroup v1, ``memory.events`` on v2) is raised before the victim
is sent SIGKILL (mm/oom_kill.c: "Raise event before sending signal"), so when the
command's exit is seen, the count already holds its kill. Every command therefore runs as
an exec in a container whose own processes (the keepalive) outlive it, fresh containers
too, and :class:`OomCount` reads the count before and after it:

- from the host, in the container's cgroup (as ``docker_reap.HostView`` lists its tasks):
  a file read, about 20 µs, before every command;
- where the host's view is not available (a remote engine, another PID namespace): from
  inside the container, by an exec as the keepalive's user, only after a command that was
  killed; the count before is then the one read last (0 for a new container). Commands
  cannot write the count: cgroup files are the kernel's, mounted read-only.

None (no count to read anywhere) leaves the caller with the engine's events.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from runners import docker_stream
from runners import docker_support as ds

if TYPE_CHECKING:
    from docker import APIClient

# Inside a container: its own memory cgroup (v1: the memory hierarchy; v2: cgroupns root).
INSIDE = ["cat", "/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"]


def parse(text: str) -> int | None:
    """The ``oom_kill`` count in a memory.oom_control or memory.events text."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def host_file(pid: int) -> Path | None:
    """The counter file of the memory cgroup of host process ``pid``, if the host shows it."""
    try:
        candidates = ds.host_cgroup_files(pid, "memory", "memory.oom_control", "memory.events")
    except (OSError, ValueError):
        return None
    for candidate in candidates:
        with contextlib.suppress(OSError):
            if parse(candidate.read_text()) is not None:
                return candidate
    return None


class OomCount:
    """The OOM kills in one container's memory cgroup, read around each command."""

    def __init__(self, api: APIClient, container_id: str, user: str, file: Path | None) -> None:
        self.api = api
        self.container_id = container_id
        self.user = user  # the keepalive's: the command's own user could be out of processes
        self.file = file
        self.last = 0  # a new container's cgroup has killed nothing

    @classmethod
    def find(cls, api: APIClient, container_id: str, user: str, pid: int) -> OomCount:
        """The count of the running container whose init has host pid ``pid``."""
        return cls(api, container_id, user, host_file(pid))

    def before(self) -> None:
        """Read the count before a command (from the host only: inside costs an exec)."""
        if self.file is not None:
            count = self._host()
            if count is not None:
                self.last = count

    def killed(self) -> bool | None:
        """Whether the kernel killed for memory since :meth:`before`; None: no count."""
        count = self._host() if self.file is not None else self._inside()
        if count is None:
            return None
        killed, self.last = count > self.last, count
        return killed

    def _host(self) -> int | None:
        assert self.file is not None
        try:
            return parse(self.file.read_text())
        except OSError:  # the container, and its cgroup, are gone
            return None

    def _inside(self) -> int | None:
        from docker.errors import APIError

        try:
            exec_id = self.api.exec_create(self.container_id, INSIDE, user=self.user)["Id"]
            text = docker_stream.output(self.api, exec_id)
        except APIError:  # not running any more
            return None
        return parse(text.decode("utf-8", "replace"))
