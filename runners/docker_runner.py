"""DockerRunner: commands in hardened containers with declared resources.

One *session container* (started on first use, reused through ``exec``) runs the
session's commands with the default resources; a *fresh container* runs a workload that
asks for it (``fresh=True``) or declares resources the session container does not have
(memory, CPUs, pids, GPUs, network). Only the project is mounted at ``/workspace``:
read-write, except the protected paths (``.git``, ``.harness``, ``feature_list.json`` and
``[protect] paths``), bound read-only over it. Failures come back classified in
``CommandResult.failure``; ``stop()`` removes every container before writeback.

No process of a command outlives it, as in the bubblewrap runner: each command runs
under a wrapper shell that ends what it left behind, and the runner checks from the host
that nothing remains before it returns (``docker_reap.py`` says how, and why this way).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import signal
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import RunnerError
from runners import classify, disk, docker_oom, protect
from runners import docker_reap as reap
from runners import docker_support as ds
from runners.base import DEFAULTS, PREEMPTION_ATTEMPTS, CommandResult, Failure, Phase, Resources
from runners.output import MAX_OUTPUT_BYTES

if TYPE_CHECKING:
    from docker import DockerClient

KEEPALIVE = "while :; do sleep 3600; done"


class _Preempted(Exception):
    """The container was killed ("killed") or removed ("gone") from outside."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _remove_all(api: Any, owned: set[str]) -> None:
    for container_id in list(owned):
        # At exit or close the engine may be gone; the next start sweeps the orphans.
        with contextlib.suppress(Exception):
            ds.remove_quietly(api, container_id)
        owned.discard(container_id)


MAY_HAVE_DIED = (126, 137, None)  # exit codes after which the container's state is asked


class DockerRunner:
    """Runs commands in Docker containers built from one image."""

    name = "docker"
    sandboxed = True

    def __init__(
        self,
        project_root: Path,
        *,
        image: str,
        resources: Resources | None = None,
        setup_network: bool = True,
        user: str = DEFAULTS.user,
        labels: dict[str, str] | None = None,
        max_attempts: int = PREEMPTION_ATTEMPTS,
        max_output_bytes: int = MAX_OUTPUT_BYTES,
        client: DockerClient | None = None,
        reason: str = 'configured (runner.kind = "docker")',
        protected: list[str] | None = None,
        hidden: list[str] | None = None,
        carry: dict[str, Path] | None = None,
        hide: list[str] | None = None,
        disk_mb: int | None = None,
        max_file_mb: int | None = None,
    ) -> None:
        self.root = Path(project_root).resolve()
        self.image = image
        self.resources = resources or Resources()
        self.setup_network = setup_network
        self.user = user
        self.max_attempts = max(1, max_attempts)
        self.max_output_bytes = max_output_bytes
        self.reason = reason
        self.declared_hidden = protect.normalize(hidden or [], state=False)
        self.declared_protected = protect.normalize(protected or [])
        self.hide = list(hide or [])
        self.hidden: list[str] = []
        self.protected: list[str] = []
        self._find_hidden()
        self.carry = dict(carry or {})
        self.disk_mb = disk_mb
        self.disk = disk.DiskBudget(self.root, disk_mb)
        self.max_file_mb = max_file_mb
        self._session_mounts: tuple[tuple[str, int, int], ...] = ()
        self.client = client or ds.connect()
        self.api = self.client.api
        ds.check_image(self.client, image)
        self.labels = {**(labels or {}), **ds.owner_labels(self.root)}
        self._owned: set[str] = set()
        self._session: str | None = None
        self._view: reap.HostView | None = None  # the session container's tasks, host side
        self._init_pid = 0  # its docker-init, as the engine's host numbers it
        self._exec_lock = threading.Lock()  # one command at a time per session container
        self._seen_oom: set[int] = set()  # the engine's oom events read (no count to read)
        self._oom: docker_oom.OomCount | None = None  # the session container's OOM kills
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.orphans_removed = ds.remove_orphans(self.api, self.root)
        except ds.connection_errors() as error:
            raise ds.unreachable(error) from error
        self._finalizer = weakref.finalize(self, _remove_all, self.api, self._owned)

    def describe(self) -> str:
        network = "network on" if self.resources.network else "network off"
        return (
            f"docker runner, image {self.image}, user {self.user}, {network} for the agent, "
            f"project at {ds.WORKSPACE}: {self.reason}"
        )

    # -- running -------------------------------------------------------------------------

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
        cache: bool = False,  # no package cache: dependencies belong in the image
    ) -> CommandResult:
        if self._closed:
            raise RuntimeError("DockerRunner used after close()")
        limits = resources or self.resources
        network = self.setup_network if phase == "setup" else limits.network
        limits = limits.model_copy(update={"network": network})
        in_session = (
            tree is None and not fresh and limits.container_key() == self.resources.container_key()
        )
        workdir = self._workdir(cwd)
        environment = {"HOME": ds.HOME, **(env or {})}
        last_kind = "killed"
        were_absent = protect.absent(self.root, self.protected) if tree is None else []
        for attempt in range(1, self.max_attempts + 1):
            try:
                if in_session:
                    result = self._exec(command, limits, environment, workdir)
                else:
                    result = self._fresh(command, limits, environment, workdir, tree)
            except _Preempted as preemption:
                last_kind = preemption.kind
                continue
            except ds.connection_errors() as error:
                raise ds.unreachable(error) from error
            update: dict[str, Any] = {"attempts": attempt}
            # A bind cannot guard a path that did not exist; a process left running in the
            # session container could still create one later (stop() ends those).
            created = protect.remove_created(self.root, were_absent)
            if created and result.failure is None:
                update["failure"] = classify.protected_created(created)
            elif result.failure is None and tree is None:
                update["failure"] = self._disk_failure(result)
            return result.model_copy(update=update)
        return CommandResult(
            command=command,
            exit_code=None,
            stdout="",
            stderr="",
            duration_s=0.0,
            failure=classify.preempted(last_kind, self.max_attempts),
            attempts=self.max_attempts,
        )

    def _disk_failure(self, result: CommandResult) -> Failure | None:
        """The per-file limit (the fsize ulimit: SIGXFSZ) or the workspace budget."""
        file_limit_hit = result.exit_code == 128 + signal.SIGXFSZ or classify.file_limit_hit(
            result.stderr
        )
        if self.max_file_mb is not None and file_limit_hit:
            return classify.file_too_large(self.max_file_mb)
        return self.disk.check()

    def _mounts_key(self) -> tuple[tuple[str, int, int], ...]:
        """The protected and hidden paths as they are on the host now (inode, device)."""
        key = []
        for relative in [*self.protected, *self.hidden]:
            with contextlib.suppress(OSError):
                info = os.lstat(self.root / relative)
                key.append((relative, info.st_ino, info.st_dev))
        return tuple(key)

    def _workdir(self, cwd: str) -> str:
        path = posixpath.normpath(posixpath.join(ds.WORKSPACE, cwd))
        if path != ds.WORKSPACE and not path.startswith(ds.WORKSPACE + "/"):
            raise ValueError(f"cwd {cwd!r} is outside the project")
        return path

    def _exec(
        self, command: str, limits: Resources, env: dict[str, str], workdir: str
    ) -> CommandResult:
        """One attempt in the session container; _Preempted if it dies under the command."""
        with self._exec_lock:
            container_id = self._session_container()
            assert self._oom is not None
            return self._exec_in(container_id, self._oom, command, limits, env, workdir)

    def _exec_in(
        self,
        container_id: str,
        oom: docker_oom.OomCount,
        command: str,
        limits: Resources,
        env: dict[str, str],
        workdir: str,
    ) -> CommandResult:
        """The command exec'd in a running container (the session's or a fresh one)."""
        from docker.errors import APIError

        argv, mark = reap.wrapped(command)
        oom.before()
        try:
            outcome = ds.run_exec(
                self.api,
                container_id,
                argv,
                user=self.user,
                env=env,
                workdir=workdir,
                timeout_s=limits.timeout_s,
                max_bytes=self.max_output_bytes,
            )
        except APIError as error:  # 404 removed, 409 not running: preempted before start
            self._drop_session(container_id)
            raise _Preempted("gone" if error.status_code == 404 else "killed") from error
        stderr, left = reap.strip_mark(outcome.stderr, mark)
        if isinstance(outcome.stream_error, ds.connection_errors()):
            self._ping()
        # The kernel's count first, while the container's cgroup surely exists (docker_oom).
        killed = outcome.exit_code in (137, None) and not outcome.timed_out
        oomed = oom.killed() if killed else False
        # A command that ended with its own exit code ran to its end: ask the engine
        # about the container only when the exec may have died with it (saves a call):
        # 137 (killed), no code, or 126, the engine's own code for an exec it could not
        # start ("cannot exec in a stopped container": killed between create and start).
        running = True
        if outcome.timed_out or outcome.exit_code in MAY_HAVE_DIED or outcome.stream_error:
            state = ds.container_state(self.api, container_id)
            running = state is not None and bool(state.get("Running"))
        failure: Failure | None = None
        if running and outcome.timed_out:
            if outcome.exit_code is None:  # the kill did not end it: restart the container
                self._drop_session(container_id)
            failure = classify.timeout(limits.timeout_s)
        elif not running or killed:
            failure = self._classify_kill(container_id, outcome.started_at, limits, running, oomed)
        note = self._end_leftovers(container_id, left)
        return CommandResult(
            command=command,
            exit_code=None if outcome.timed_out else outcome.exit_code,
            stdout=outcome.stdout,
            stderr=stderr,
            duration_s=outcome.duration_s,
            failure=failure,
            note=note,
        )

    def _end_leftovers(self, container_id: str, left: bool) -> str | None:
        """No process of the command runs in the session container any more (docker_reap).

        Returns the note for the agent when some were left (and ended).
        """
        if self._session != container_id:
            return reap.NOTE if left else None  # the container is gone, and its processes
        look = reap.watch(self.api, container_id, self._view, self._init_pid)
        reaped = reap.end_leftovers(self.api, container_id, self.user, look)
        if reaped == "restart":
            self._drop_session(container_id)
            return f"{reap.NOTE} (the session container was restarted to end them)"
        return reap.NOTE if left or reaped == "stopped" else None

    def _classify_kill(
        self,
        container_id: str,
        since: float,
        limits: Resources,
        running: bool,
        oomed: bool | None,
    ) -> Failure | None:
        """A command killed in its container: by memory, from outside, or itself.

        ``oomed`` is the kernel's count of OOM kills in the container's cgroup
        (docker_oom); None where it cannot be read: then the engine's ``oom`` events, as
        far as its short history still holds them. A container killed from outside shows
        as ``kill``/``die`` events, maybe before its state says so.
        """
        actions = ["kill", "die", "destroy"] + (["oom"] if oomed is None else [])
        events = ds.container_events(self.api, container_id, actions, since)
        if not running or any(action != "oom" for action, _ in events):
            state = ds.wait_stopped(self.api, container_id)
            self._drop_session(container_id)
            if oomed or (state is not None and state.get("OOMKilled")):
                return classify.oom(limits.memory_mb)  # e.g. a tmpfs filled the limit
            raise _Preempted("gone" if state is None else "killed")
        if oomed is None:
            fresh_ooms = {t for action, t in events if action == "oom"} - self._seen_oom
            self._seen_oom.update(fresh_ooms)
            oomed = bool(fresh_ooms)
        if not oomed:
            return None  # a plain SIGKILL (e.g. `kill -9 $$`), not memory
        peak = ds.peak_memory_mb(self.api, container_id)
        # Memory may still be held (a full tmpfs, a leaked daemon): start clean next time.
        self._drop_session(container_id)
        return classify.oom(limits.memory_mb, peak)

    def _fresh(
        self,
        command: str,
        limits: Resources,
        env: dict[str, str],
        workdir: str,
        tree: Path | None = None,
    ) -> CommandResult:
        """One attempt in a new container with ``limits``, removed afterwards; ``tree`` at
        /workspace instead of the project (with the project's .git read-only). The command
        is exec'd in it as in the session container: the container's keepalive outlives the
        command, and with it the cgroup whose count says whether memory killed it."""
        from docker.errors import APIError, NotFound

        keeper = reap.keepalive_user(self.user)
        home = {"HOME": ds.HOME}
        try:
            container_id = self._create(
                limits, ["sh", "-c", KEEPALIVE], home, workdir, "fresh", keeper, tree=tree
            )
        except RunnerError:
            raise
        except APIError as error:
            return self._refused(command, error, limits)
        try:
            try:
                self.api.start(container_id)
                pid = int(self.api.inspect_container(container_id)["State"]["Pid"])
            except NotFound as error:
                raise _Preempted("gone") from error
            except APIError as error:  # the engine cannot provide what was declared
                return self._refused(command, error, limits)
            oom = docker_oom.OomCount.find(self.api, container_id, keeper, pid)
            return self._exec_in(container_id, oom, command, limits, env, workdir)
        finally:
            self._remove(container_id)

    def _refused(self, command: str, error: Exception, limits: Resources) -> CommandResult:
        """The engine would not create or start the container: the agent's to fix when it
        declared resources of its own (e.g. GPUs the engine does not have) and the refusal is
        about one of them, the machine's (RunnerError: the run parks) otherwise: the run's
        own resources, network plumbing, the image store, the image's user."""
        if limits.container_key()[:4] == self.resources.container_key()[:4]:
            raise ds.engine_refused(error)
        if not ds.refused_declared(error, limits, self.resources):
            raise ds.engine_refused(error, declared=True)
        failure = Failure(
            kind="sandbox",
            message=f"the Docker engine refused to create the container: {ds.short(error)}",
            suggestion="request fewer or other resources (e.g. gpus=0) and rerun, or "
            "ask_human if the workload needs them",
        )
        return CommandResult(
            command=command, exit_code=None, stdout="", stderr="", duration_s=0.0, failure=failure
        )

    # -- containers ----------------------------------------------------------------------

    def _create(
        self,
        limits: Resources,
        command: list[str],
        env: dict[str, str],
        workdir: str,
        role: str,
        user: str | None = None,
        tree: Path | None = None,
    ) -> str:
        from docker.errors import ImageNotFound

        hidden, carry = self.hidden, self.carry
        if tree is not None:  # a clean checkout: its own secrets, nothing carried
            protect.own_tree(tree, self.user)
            hidden, carry = protect.find_hidden(tree, self.hide), {}
        try:
            created = self.api.create_container(
                self.image,
                command=command[2:],
                entrypoint=command[:2],
                user=user or self.user,
                working_dir=workdir,
                environment=env,
                labels={**self.labels, "harness.role": role},
                host_config=ds.host_config(
                    self.api,
                    tree or self.root,
                    limits,
                    network=limits.network,
                    uid_gid=self.user,
                    protected=self.protected,
                    max_file_mb=self.max_file_mb,
                    hidden=hidden,
                    carry=carry,
                    git_dir=self.root / ".git" if tree is not None else None,
                ),
            )
        except ImageNotFound as error:
            raise classify.image_missing(self.image) from error
        container_id: str = created["Id"]
        self._owned.add(container_id)
        return container_id

    def _session_container(self) -> str:
        mounts = self._mounts_key()
        with self._lock:
            stale = self._session is not None and mounts != self._session_mounts
        if stale and self._session is not None:
            # A protected file was replaced on the host (the harness writes feature_list.json
            # by rename) or appeared: a bind shows the old inode, so start a new container.
            self._drop_session(self._session)
        with self._lock:
            if self._session is None:
                self._session_mounts = mounts
                self._session = self._start_session()
            return self._session

    def _start_session(self) -> str:
        """A new session container; its own processes run as the keepalive uid."""
        keeper = reap.keepalive_user(self.user)
        command = ["sh", "-c", KEEPALIVE]
        env = {"HOME": ds.HOME}
        from docker.errors import APIError

        try:
            container_id = self._create(
                self.resources, command, env, ds.WORKSPACE, "session", keeper
            )
        except APIError as error:
            raise ds.engine_refused(error) from error
        try:
            self.api.start(container_id)
        except APIError as error:
            self._remove(container_id)
            raise ds.engine_refused(error) from error
        self._init_pid = int(self.api.inspect_container(container_id)["State"]["Pid"])
        self._view = reap.HostView.find(self._init_pid)
        self._oom = docker_oom.OomCount.find(self.api, container_id, keeper, self._init_pid)
        return container_id

    def _drop_session(self, container_id: str) -> None:
        with self._lock:
            if self._session == container_id:
                self._session = None
        self._remove(container_id)

    def _remove(self, container_id: str) -> None:
        try:
            ds.remove_quietly(self.api, container_id)
        finally:
            self._owned.discard(container_id)

    def _ping(self) -> None:
        try:
            self.api.ping()
        except Exception as error:
            raise ds.unreachable(error) from error

    @property
    def session_container(self) -> str | None:
        """The id of the running session container, if one was started."""
        return self._session

    def stop(self) -> None:
        """Remove every container (and so every process) of the session; usable again later.
        The hidden files are looked for again (one you added is hidden from the next
        session)."""
        with self._lock:
            self._session = None
        _remove_all(self.api, self._owned)
        self._find_hidden()

    def _find_hidden(self) -> None:
        """The paths covered in the sandbox and those guarded (:func:`protect.guarded`)."""
        self.hidden, self.protected = protect.guarded(
            self.root, self.hide, self.declared_hidden, self.declared_protected
        )

    def close(self) -> None:
        """Remove every container this runner started."""
        self._closed = True
        self._session = None
        self._finalizer()
