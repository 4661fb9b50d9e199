"""Docker plumbing for ``DockerRunner``: connecting, container settings, exec, cleanup.

The docker SDK is imported inside functions, so importing ``runners`` stays cheap.
Everything here uses the low-level ``APIClient`` (one HTTP call per operation).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import RunnerError
from runners import classify, docker_stream, protect
from runners.base import Resources
from runners.output import TailBuffer
from runners.process import pid_alive

if TYPE_CHECKING:
    from docker import APIClient, DockerClient

WORKSPACE = "/workspace"
HOME = "/home/harness"
LABEL_PROJECT = "harness.project"
LABEL_PID = "harness.pid"
LABEL_HOST = "harness.host"
# Run as the runner's user in the session container: SIGKILL to every process of that
# user but the shell itself (the keepalive runs as another uid; see docker_reap.py).
KILL_ALL = ["sh", "-c", "kill -9 -1 2>/dev/null; true"]


def connection_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean the engine did not answer (not a refusal by the engine)."""
    import requests  # lazy: ~0.1 CPU-s at every start, and only Docker's client needs it

    return (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


def connect(timeout_s: float = 30.0) -> DockerClient:
    """A client for the engine of the environment (DOCKER_HOST), checked with a ping."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except DockerException as error:
        raise classify.daemon_unreachable(short(error)) from error
    except connection_errors() as error:
        raise classify.daemon_unreachable(short(error)) from error
    return client


def check_image(client: DockerClient, image: str) -> None:
    """RunnerError image_missing unless ``image`` is present locally (nothing is pulled)."""
    from docker.errors import ImageNotFound

    try:
        client.api.inspect_image(image)  # type: ignore[no-untyped-call]
    except ImageNotFound as error:
        raise classify.image_missing(image) from error
    except connection_errors() as error:
        raise classify.daemon_unreachable(short(error)) from error


def short(error: BaseException) -> str:
    """The error's first line, at most 300 characters: the engine's own words when it gave
    some (an APIError's ``explanation``), not the request's URL before them."""
    explanation = getattr(error, "explanation", None)
    whole = explanation if isinstance(explanation, str) and explanation.strip() else str(error)
    text = whole.strip().splitlines()[0] if whole.strip() else type(error).__name__
    return text[:300]


def project_binds(
    project_root: Path,
    protected: list[str],
    hidden: list[str] | None = None,
    git_dir: Path | None = None,
) -> dict[str, Mapping[str, str]]:
    """The project read-write at /workspace, its protected paths read-only over it.

    Directories between the root and a protected (or hidden) path are bound over
    themselves too, so the path cannot be moved away with its parent (see
    runners/protect.py). Hidden paths are not bound: :func:`cover_mounts` covers them.
    ``git_dir``: the project's ``.git``, read-only over a clean checkout mounted instead of
    the project (the setup phase's, session/setup_tree.py).
    """

    binds: dict[str, Mapping[str, str]] = {str(project_root): {"bind": WORKSPACE, "mode": "rw"}}
    if git_dir is not None and git_dir.is_dir():
        binds[str(git_dir)] = {"bind": f"{WORKSPACE}/.git", "mode": "ro"}
    mounts, covered = protect.covered(project_root, protected, hidden or [])
    readonly = [p for p in mounts.readonly if p not in covered]
    for relative, mode in [(p, "rw") for p in mounts.pinned] + [(p, "ro") for p in readonly]:
        binds[f"{project_root}/{relative}"] = {"bind": f"{WORKSPACE}/{relative}", "mode": mode}
    return binds


def cover_mounts(
    project_root: Path,
    protected: list[str],
    hidden: list[str] | None,
    carry: dict[str, Path] | None = None,
) -> list[Any]:
    """Docker mounts over the hidden paths (an empty read-only tmpfs for a folder,
    /dev/null for a file) and the carried ones (read-only binds of the work tree's)."""
    from docker.types import Mount

    found = [
        Mount(f"{WORKSPACE}/{relative}", str(source), type="bind", read_only=True)
        for relative, source in (carry or {}).items()
    ]
    _, covered = protect.covered(project_root, protected, hidden or [])
    for relative in covered:
        target = f"{WORKSPACE}/{relative}"
        if (project_root / relative).is_dir():
            found.append(Mount(target, "", type="tmpfs", read_only=True, tmpfs_size=65536))
        else:
            found.append(Mount(target, "/dev/null", type="bind", read_only=True))
    return found


def host_config(
    api: APIClient,
    project_root: Path,
    resources: Resources,
    *,
    network: bool,
    uid_gid: str,
    protected: list[str] | None = None,
    max_file_mb: int | None = None,
    hidden: list[str] | None = None,
    carry: dict[str, Path] | None = None,
    git_dir: Path | None = None,
) -> dict[str, Any]:
    """The hardened host settings of a workload container with these resources."""
    from docker.types import DeviceRequest, Ulimit

    uid, _, gid = uid_gid.partition(":")
    tmpfs_opts = f"rw,nosuid,nodev,size=512m,uid={uid},gid={gid or uid}"
    memory = resources.memory_mb * 1024 * 1024
    fsize = max_file_mb * 1024 * 1024 if max_file_mb else None
    config: dict[str, Any] = api.create_host_config(
        binds=project_binds(project_root, protect.normalize(protected or []), hidden, git_dir),
        mounts=cover_mounts(project_root, protect.normalize(protected or []), hidden, carry)
        or None,
        ulimits=[Ulimit(name="fsize", soft=fsize, hard=fsize)] if fsize else None,
        mem_limit=memory,
        memswap_limit=memory,  # equal to the memory limit: no swap
        nano_cpus=int(resources.cpus * 1e9),
        pids_limit=resources.pids,
        device_requests=(
            [DeviceRequest(count=resources.gpus, capabilities=[["gpu"]])]
            if resources.gpus
            else None
        ),
        network_mode="bridge" if network else "none",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": tmpfs_opts, HOME: tmpfs_opts},
        init=True,
    )
    return config


def owner_labels(project_root: Path) -> dict[str, str]:
    """Labels that let a later harness find this process's containers if it dies."""
    return {
        LABEL_PROJECT: str(project_root),
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: socket.gethostname(),
    }


def remove_orphans(api: APIClient, project_root: Path) -> list[str]:
    """Remove this project's containers left by harness processes that are gone."""
    host = socket.gethostname()
    removed = []
    for info in api.containers(all=True, filters={"label": f"{LABEL_PROJECT}={project_root}"}):
        labels = info.get("Labels") or {}
        if labels.get(LABEL_HOST) != host:
            continue  # another machine's harness: its pid means nothing here
        try:
            pid = int(labels.get(LABEL_PID, ""))
        except ValueError:
            pid = -1
        if pid > 0 and pid_alive(pid):
            continue
        remove_quietly(api, info["Id"])
        removed.append(info["Id"])
    return removed


def remove_quietly(api: APIClient, container_id: str) -> None:
    """Remove a container, ignoring one that is already gone."""
    from docker.errors import APIError

    try:
        api.remove_container(container_id, force=True)
    except APIError as error:
        if error.status_code not in (404, 409):  # gone, or removal already in progress
            raise


@dataclass
class ExecOutcome:
    """What one exec reported; ``timed_out`` when the harness killed it."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    started_at: float
    duration_s: float
    stream_error: BaseException | None = field(default=None)


def run_exec(
    api: APIClient,
    container_id: str,
    argv: list[str],
    *,
    user: str,
    env: dict[str, str],
    workdir: str,
    timeout_s: float,
    max_bytes: int,
) -> ExecOutcome:
    """Run ``argv`` as ``user`` in a running container; at the time limit SIGKILL every
    process of that user there (the caller runs one command at a time per container)."""
    started_at = time.time()
    started = time.monotonic()
    exec_id = api.exec_create(container_id, argv, user=user, environment=env, workdir=workdir)["Id"]
    out, err = TailBuffer(max_bytes), TailBuffer(max_bytes)
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            for kind, data in docker_stream.frames(api, exec_id):
                (err if kind == docker_stream.STDERR else out).write(data)
        except Exception as error:  # reported to the caller, which classifies it
            errors.append(error)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    reader.join(timeout_s)
    timed_out = reader.is_alive()
    if timed_out:
        kill_all(api, container_id, user)
        reader.join(5.0)
    exit_code = None
    if not reader.is_alive():
        try:
            exit_code = api.exec_inspect(exec_id).get("ExitCode")
        except Exception as error:
            errors.append(error)
    return ExecOutcome(
        exit_code=exit_code,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=timed_out,
        started_at=started_at,
        duration_s=time.monotonic() - started,
        stream_error=errors[0] if errors else None,
    )


def kill_all(api: APIClient, container_id: str, user: str) -> None:
    """SIGKILL every process of ``user`` in the container (from a new exec)."""
    try:
        kill_id = api.exec_create(container_id, KILL_ALL, user=user)["Id"]
        docker_stream.output(api, kill_id)  # to the end: the kill was sent
    except Exception:  # the container may be gone already; the caller checks its state
        pass


def _stamp(seconds: float) -> str:
    """A timestamp as the engine parses it: seconds.nanoseconds (nine digits)."""
    whole = int(seconds)
    return f"{whole}.{int((seconds - whole) * 1e9):09d}"


def container_events(
    api: APIClient, container_id: str, actions: list[str], since: float
) -> list[tuple[str, int]]:
    """The engine's events ``actions`` for the container since ``since``: (action, timeNano)."""
    # `until` is now: a future `until` would make the engine hold the stream open.
    found = api.events(  # type: ignore[call-overload]  # the engine takes "sec.nanos" text
        since=_stamp(since - 1.0),
        until=_stamp(time.time()),
        filters={"container": container_id, "event": actions},
        decode=True,
    )
    return [
        (str(item.get("Action", item.get("status"))), int(item.get("timeNano", 0)))
        for item in found
    ]


def wait_stopped(
    api: APIClient, container_id: str, timeout_s: float = 10.0
) -> dict[str, Any] | None:
    """Wait for a container that is going down; its final State (None once removed)."""
    from docker.errors import APIError

    with contextlib.suppress(APIError, *connection_errors()):
        api.wait(container_id, timeout=int(timeout_s))
    return container_state(api, container_id)


def peak_memory_mb(api: APIClient, container_id: str) -> float | None:
    """Peak memory use of a running container where the engine reports it (cgroup v1)."""
    try:
        stats = api.stats(container_id, stream=False, one_shot=True)
    except Exception:
        return None
    peak = (stats.get("memory_stats") or {}).get("max_usage")
    return round(peak / (1024 * 1024), 1) if peak else None


def container_state(api: APIClient, container_id: str) -> dict[str, Any] | None:
    """The container's State, or None when it no longer exists."""
    from docker.errors import NotFound

    try:
        state: dict[str, Any] = api.inspect_container(container_id)["State"]
    except NotFound:
        return None
    return state


def host_cgroup_files(pid: int, controller: str, v1_name: str, v2_name: str) -> list[Path]:
    """Where host process ``pid``'s cgroup file may be: ``v1_name`` in the ``controller``
    hierarchy (cgroup v1), ``v2_name`` in the unified one (v2, or hybrid's ``unified``).
    OSError or ValueError when the host does not show the process."""
    found = []
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            found.append(Path(f"/sys/fs/cgroup/{controller}{path}/{v1_name}"))
        elif controllers == "":
            found.append(Path(f"/sys/fs/cgroup{path}/{v2_name}"))
            found.append(Path(f"/sys/fs/cgroup/unified{path}/{v2_name}"))
    return found


def unreachable(error: BaseException) -> RunnerError:
    return classify.daemon_unreachable(short(error))


# The words of the engine's refusals about one resource of a container (Docker's own
# messages: "Range of CPUs is from 0.01 to 2.00", "Minimum memory limit allowed is 6MB",
# 'could not select device driver "" with capabilities: [[gpu]]').
RESOURCE_WORDS: dict[str, tuple[str, ...]] = {
    "memory_mb": ("memory",),
    "cpus": ("cpu",),
    "pids": ("pids",),
    "gpus": ("gpu", "device driver"),
}


def refused_declared(error: Exception, declared: Resources, own: Resources) -> list[str]:
    """The resources the agent declared (unlike the run's own) that the engine's refusal is
    about; [] when it is about something else (network plumbing, the image, the user)."""
    text = str(error).lower()
    return [
        name
        for name, words in RESOURCE_WORDS.items()
        if getattr(declared, name) != getattr(own, name) and any(w in text for w in words)
    ]


def engine_refused(error: Exception, *, declared: bool = False) -> RunnerError:
    """The engine refused a container with the run's own resources (its network plumbing,
    image store or devices, or resources in harness.toml it cannot give), or for a cause
    that is none of the resources the agent declared (``declared``): not the agent's."""
    what = (
        "for a cause that is none of the resources the agent declared"
        if declared
        else "with the run's own resources"
    )
    return RunnerError(
        f"the Docker engine refused a container {what}: {short(error)}.",
        kind="engine_refused",
        suggestion="This is the machine's engine (network, storage, devices) or the run's "
        "[runner] resources in harness.toml, not the agent's work: fix it (`harness doctor` "
        "checks the runner), then `harness run` resumes the step that was running.",
    )
