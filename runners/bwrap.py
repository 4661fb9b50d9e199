"""BubblewrapRunner: each command in a fresh bubblewrap sandbox on this machine.

What a command sees (:mod:`runners.bwrap_view`): the system directories and the
harness's Python read-only, a curated ``/etc`` (no ``shadow``, no keys), a new ``/dev``
and ``/proc``, a private ``/tmp`` and ``$HOME`` (tmpfs, size-limited), the project
read-write except the protected paths (bound read-only over themselves, their parent
directories pinned so they cannot be swapped) and the hidden ones (``[verify] hidden``,
``.env`` files, ``[protect] hide``: an empty read-only folder or file in their place), no
network unless declared, no capabilities, its own PID
namespace (every process dies with the command), and only an allow-listed environment;
it runs as the project's owner when the harness runs as root. Limits: address space, CPU
time, file size and process count as rlimits set by ``prlimit`` inside the sandbox, the
time limit as a kill of the whole sandbox, and a workspace disk budget checked after each
command. Commands that run as root are exempt from RLIMIT_NPROC: their ``pids`` is a
cgroup's (:mod:`runners.pids_group`), not enforced where none can be made. Not enforced
here: ``cpus``. See runners/README.md.
"""

from __future__ import annotations

import errno
import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import RunnerError
from harness.hostpath import program
from harness.journal.keys import state_home
from runners import classify, disk, pids_group, protect, reaper
from runners.base import CommandResult, Phase, Resources
from runners.bwrap_view import (
    HOME,
    PACKAGE_ENV,
    SYSTEM_DIRS,
    View,
    package_folder,
    reachable,
    sandbox_args,
    trim_packages,
)
from runners.output import MAX_OUTPUT_BYTES
from runners.process import (
    dash_shell,
    did_not_start,
    limit_argv,
    limit_script,
    prlimit_path,
    run_limited,
    shell_code,
    ungrantable,
)

SANDBOX_TASKS = 2
"""Tasks of a sandbox besides the command's in its pids cgroup: bwrap, and its init in the
PID namespace (``pids`` counts the command's shell and what it starts)."""
# The only host variables a command gets (plus PATH, HOME and what the caller passes).
PASSED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ")


@functools.cache
def bwrap_version() -> str | None:
    """``bubblewrap X.Y.Z`` when a working bwrap is on PATH, else None (checked once)."""
    path = program("bwrap")
    if path is None:
        return None
    try:
        probe = subprocess.run(
            [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=10,
            check=False,
            # Its inner bwrap outlives it and is reaped by reaper.collect where this process is
            # a subreaper, which passes over its own session's processes (Popen's to wait).
            start_new_session=True,
        )
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if probe.returncode != 0:
        return None
    return version.stdout.strip() or "bubblewrap"


def _key_folder() -> str | None:
    """The harness's state directory (journal keys) when it exists, resolved."""

    folder = state_home()
    return str(folder.resolve()) if folder.is_dir() else None


def unusable() -> RunnerError:
    """The error when bubblewrap is missing or cannot create namespaces here."""
    found = program("bwrap")
    why = (
        "bwrap cannot create a sandbox here (user namespaces disabled?)"
        if found
        else "bubblewrap (bwrap) is not installed"
    )
    return RunnerError(
        f"the bubblewrap sandbox cannot run: {why}.",
        kind="sandbox_unavailable",
        suggestion="Install bubblewrap (`apt install bubblewrap`) and allow unprivileged user "
        "namespaces (sysctl kernel.unprivileged_userns_clone=1), or use Docker "
        '(runner.kind = "docker"), or set runner.kind = "local" to run commands '
        "unsandboxed on this machine.",
    )


def gone(error: OSError) -> RunnerError:
    """bwrap could not be run any more (it was there when the run started)."""
    return RunnerError(
        f"the bubblewrap sandbox cannot run: bwrap could not be started ({error}).",
        kind="sandbox_unavailable",
        suggestion="It was there when the run started: reinstall bubblewrap (`apt install "
        "bubblewrap`) or make it runnable again, then `harness run` resumes the step that "
        'was running (or set runner.kind = "docker").',
    )


def _check_owner_can_run(view: View, root: Path) -> None:
    """A harness running as root runs commands as the project's owner: that user must
    reach and write the project, and be able to make a sandbox (unprivileged user
    namespaces). RunnerError saying which, else nothing."""
    uid = view.workload.uid
    if not reachable(root, uid, view.workload.gid, write=True):
        raise RunnerError(
            f"the bubblewrap sandbox cannot run: commands run as the project's owner "
            f"(uid {uid}), who cannot reach or write {root}.",
            kind="sandbox_unavailable",
            suggestion=f"Make {root} and the folders above it reachable by uid {uid}, or "
            "run harness as that user.",
        )
    probe = [*view.workload.prefix(), view.bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"]
    try:
        # A session of its own, as bwrap_version's probe: its inner bwrap is an orphan.
        done = subprocess.run(
            probe, capture_output=True, timeout=10, check=False, start_new_session=True
        )
    except (OSError, subprocess.SubprocessError) as error:
        done = subprocess.CompletedProcess(probe, 1, b"", str(error).encode())
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip()[:200]
        raise RunnerError(
            f"the bubblewrap sandbox cannot run as the project's owner (uid {uid}): {why}.",
            kind="sandbox_unavailable",
            suggestion="Allow unprivileged user namespaces (sysctl "
            'kernel.unprivileged_userns_clone=1), or use Docker (runner.kind = "docker").',
        )


@dataclass(frozen=True)
class LimitPlan:
    """How a command's limits are set (:meth:`BubblewrapRunner._limit_plan`)."""

    prefix: list[str]  # ``prlimit ... --`` before the shell; empty when the shell sets them
    prelude: str  # dash's ``ulimit`` commands the shell runs first; empty with prlimit
    pids: int | None  # RLIMIT_NPROC set (None: not enforced)
    by: str


class BubblewrapRunner:
    """Runs commands with ``sh -c`` in a new bubblewrap sandbox per command."""

    name = "bwrap"
    sandboxed = True

    def __init__(
        self,
        project_root: Path,
        *,
        resources: Resources | None = None,
        setup_network: bool = True,
        protected: list[str] | None = None,
        hidden: list[str] | None = None,
        carry: dict[str, Path] | None = None,
        hide: list[str] | None = None,
        disk_mb: int | None = None,
        max_file_mb: int | None = None,
        reason: str = 'configured (runner.kind = "bwrap")',
        max_output_bytes: int = MAX_OUTPUT_BYTES,
        package_cache: bool = False,
        etc: tuple[str, ...] = (),
    ) -> None:
        version = bwrap_version()
        self.root = Path(project_root).resolve()
        bwrap = program("bwrap", outside=self.root)
        if version is None:
            raise unusable()
        if bwrap is None:  # there when this process first looked: gone since
            bwrap_version.cache_clear()
            raise gone(FileNotFoundError(errno.ENOENT, "no longer on PATH", "bwrap"))
        self.version = version
        self.resources = resources or Resources()
        self.setup_network = setup_network
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
        self.reason = reason
        self.max_output_bytes = max_output_bytes
        self.view = View.build(bwrap, self.root, etc)
        self.package_cache = package_cache
        if self.view.workload.switch:
            _check_owner_can_run(self.view, self.root)
        # Root's commands are exempt from RLIMIT_NPROC: their pids limit is a cgroup's.
        self.pids_cgroup = pids_group.base() if self.view.workload.uid == 0 else None
        self._leaving: list[pids_group.PidsGroup] = []  # groups whose tasks were leaving
        self.shell = program("sh", outside=self.root) or "/bin/sh"
        self._closed = False
        # Each command's inner bwrap (pid 1 of its sandbox) exits just after the outer one
        # returns: as the subreaper, this process reaps it at the next command
        # (reaper.collect). Without it, a harness that is pid 1 (a container started
        # without --init) would keep one zombie per command for as long as it runs.
        reaper.adopt_orphans()

    def describe(self) -> str:
        network = "network off" if not self.resources.network else "network on"
        plan = self._limit_plan(self.resources)
        if self.pids_cgroup is not None:
            by = "set before exec" if plan is None else f"by {plan.by}"
            limits = f"limits {by}, pids by a cgroup (commands run as root)"
        elif plan is None:
            limits = "limits set before exec (no prlimit: pids not enforced)"
        elif plan.pids is None:
            limits = (
                f"limits by {plan.by} (pids not enforced: commands run as root, and no pids "
                "cgroup can be made here)"
            )
        else:
            limits = f"limits by {plan.by}"
        python = "" if self.view.python else ", the harness's Python not readable by it"
        return (
            f"bwrap sandbox ({self.version}), {network} for the agent, {limits}, "
            f"{self.view.workload.describe()}{python}, project {self.root}: {self.reason}"
        )

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
        cache: bool = False,
    ) -> CommandResult:
        if self._closed:
            raise RuntimeError("BubblewrapRunner used after close()")
        limits = resources or self.resources
        network = self.setup_network if phase == "setup" else limits.network
        workdir = (self.root / cwd).resolve()
        if not workdir.is_relative_to(self.root):
            raise ValueError(f"cwd {cwd!r} is outside the project")
        # The limits are set inside the sandbox, on the command only (not on bwrap), so
        # RLIMIT_NPROC counts the processes of the sandbox's own user namespace.
        plan = self._limit_plan(limits)
        pids = plan.pids if plan else None
        refused = ungrantable(
            limits, self.resources, max_file_mb=self.max_file_mb, runner="bwrap", pids=pids
        )
        if refused is not None:
            return CommandResult(
                command=command, exit_code=None, stdout="", stderr="", duration_s=0.0,
                failure=refused,
            )  # fmt: skip
        if tree is not None and self.view.workload.switch:
            protect.own_tree(tree, (self.view.workload.uid, self.view.workload.gid))
        # The package cache: only for a setup on a clean checkout (never the agent's tree,
        # so nothing the agent wrote goes into what later setups install from).
        packages = (
            package_folder(self.root, self.view.workload)
            if cache and self.package_cache and tree is not None and phase == "setup"
            else None
        )
        sandbox = sandbox_args(
            self.view,
            root=self.root,
            tree=tree or self.root,
            network=network,
            workdir=workdir,
            protected=self.protected,
            hidden=self.hidden if tree is None else protect.find_hidden(tree, self.hide),
            carry=self.carry if tree is None else {},
            keys=_key_folder(),
            packages=packages,
        )
        group = self._pids_group(limits)
        joined = group.prefix(self.shell) if group is not None else []
        argv = [*joined, *sandbox, *(plan.prefix if plan else [])]
        were_absent = protect.absent(self.root, self.protected) if tree is None else []
        try:
            outcome = run_limited(
                argv,
                command,
                limits,
                limited=plan is not None,
                prelude=plan.prelude if plan else "",
                cwd=self.root,
                env=self.environment({**PACKAGE_ENV, **(env or {})} if packages else env),
                max_file_mb=self.max_file_mb,
                max_output_bytes=self.max_output_bytes,
            )
        except OSError as error:  # bwrap itself could not be run (removed, not executable)
            bwrap_version.cache_clear()
            raise gone(error) from error
        finally:
            if group is not None and not group.remove():
                self._leaving.append(group)
            reaper.collect()  # the sandbox's inner bwrap, when this process is a subreaper
        # The sandbox never started (bwrap could not set it up: "setting up uid map";
        # prlimit refused): the machine's fault, not the command's.
        started = did_not_start(outcome, limits, self.resources, what="bubblewrap")
        failure = started or classify.local_failure(
            outcome.returncode,
            outcome.stderr,
            timed_out=outcome.timed_out,
            memory_mb=limits.memory_mb,
            timeout_s=limits.timeout_s,
            max_file_mb=self.max_file_mb,
        )
        stderr = outcome.stderr
        if packages is not None:  # counted after each setup that wrote it, as the workspace
            stderr += trim_packages(packages, self.disk_mb)
        created = protect.remove_created(self.root, were_absent)
        if created:
            failure = failure or classify.protected_created(created)
        if failure is None and tree is None:
            failure = self.disk.check()
        return CommandResult(
            command=command,
            exit_code=None if outcome.timed_out else shell_code(outcome.returncode),
            stdout=outcome.stdout,
            stderr=stderr,
            duration_s=outcome.duration_s,
            failure=failure,
        )

    def _pids_group(self, limits: Resources) -> pids_group.PidsGroup | None:
        """The command's own pids cgroup when it runs as root (None: not root, or no
        cgroup can be made here, as :meth:`describe` says)."""
        if self.pids_cgroup is None:
            return None
        self._leaving = [group for group in self._leaving if not group.remove()]
        try:
            return pids_group.PidsGroup.make(self.pids_cgroup, limits.pids + SANDBOX_TASKS)
        except OSError as error:
            raise RunnerError(
                f"the bubblewrap sandbox cannot limit a command's processes: its pids "
                f"cgroup could not be made in {self.pids_cgroup} ({error}).",
                kind="sandbox_failed",
                suggestion="It could when the run started: check the cgroup file system "
                "(`harness doctor`), then `harness run` resumes the step that was running.",
            ) from error

    def _limit_plan(self, limits: Resources) -> LimitPlan | None:
        """How the limits are set inside the sandbox, on the command only: by the shell
        that runs it (dash's ``ulimit``: no exec), else ``prlimit ... --`` before it when
        that is inside the system folders the sandbox sees; None: neither (then they are
        set on bwrap between fork and exec, and ``pids`` is not enforced)."""
        # RLIMIT_NPROC: root's processes are exempt from it, so it bounds nothing then.
        pids = limits.pids if self.view.workload.uid != 0 else None
        if dash_shell():
            script = limit_script(limits, max_file_mb=self.max_file_mb, pids=pids)
            return LimitPlan([], script, pids, "the shell's ulimit")
        path = prlimit_path()
        if path is None or not any(
            path.startswith(folder + "/") for folder in SYSTEM_DIRS if not os.path.islink(folder)
        ):
            return None
        argv = limit_argv(limits, max_file_mb=self.max_file_mb, pids=pids) or []
        return LimitPlan(argv, "", pids, "prlimit")

    def environment(self, extra: dict[str, str] | None) -> dict[str, str]:
        """The allow-listed environment: bwrap and the command get nothing else."""
        interpreter_dir = str(Path(sys.executable).parent)
        host_path = os.environ.get("PATH", "/usr/bin:/bin")
        path = os.pathsep.join(
            [interpreter_dir, host_path] if interpreter_dir in self.view.python else [host_path]
        )
        environment = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        environment.update({"PATH": path, "HOME": HOME, "TMPDIR": "/tmp"})
        environment.update(extra or {})
        return environment

    def sandbox_args(self, *, network: bool, workdir: Path) -> list[str]:
        """The bwrap command line up to (not including) the command (for the benchmark)."""
        return sandbox_args(
            self.view,
            root=self.root,
            tree=self.root,
            network=network,
            workdir=workdir,
            protected=self.protected,
            hidden=self.hidden,
            carry=self.carry,
            keys=_key_folder(),
        )

    def stop(self) -> None:
        """Nothing outlives a command (its PID namespace dies with it); the hidden files
        are looked for again (a secret you added during the session is hidden from the
        next one)."""
        self._find_hidden()

    def _find_hidden(self) -> None:
        """The paths covered in the sandbox and those guarded (:func:`protect.guarded`)."""
        self.hidden, self.protected = protect.guarded(
            self.root, self.hide, self.declared_hidden, self.declared_protected
        )

    def close(self) -> None:
        self._closed = True
        for group in self._leaving:
            group.remove(wait_s=pids_group.REMOVE_S)
        self._leaving = []
