"""What of the host a bubblewrap sandbox sees, and as whom its command runs.

:class:`Workload` is the command's user. bwrap's ``--uid`` only renames the user inside
the sandbox: the kernel still checks files against the real uid, so a harness running as
root ran every command as root (it read ``/etc/shadow`` and Docker's key). When the
harness runs as root on a project that belongs to a user, bwrap itself is started as that
user (``setpriv --reuid --regid --clear-groups``, npm's rule for scripts run by root): the
command can read only what that user can, the files it writes are the user's, and
``RLIMIT_NPROC`` (``pids``) holds (the kernel exempts only root). A project that belongs
to root is run as root (no capabilities, the curated ``/etc``, ``pids`` by a cgroup:
:mod:`runners.pids_group`): chown it to a user to have its commands run as that user.

:func:`sandbox_args` is the bwrap command line: the system folders read-only, the curated
``/etc`` (:mod:`runners.sandbox_etc`), the harness's Python, new ``/dev``, ``/proc``,
``/tmp`` and ``$HOME``, the project (or another tree mounted where the project is) with
its protected paths read-only and its hidden files (``[verify] hidden``, ``.env``,
``[protect] hide``) covered by empty ones, the journal's key folder emptied.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.hostpath import program
from harness.walk import remove_tree
from runners import disk, protect, sandbox_etc

HOME = "/home/harness"
TMPFS_MB = 512
# Read-only system directories (the ones that exist; symlinks such as /bin -> usr/bin on
# merged-/usr systems are recreated as symlinks). /etc is the curated copy. Not bound:
# /root, /home, /run (the Docker socket lives there), /var, /srv, /mnt, /media, /sys.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
STATE = "sandbox"  # the curated /etc: in ~/.cache/harness, or the project's .harness


def reachable(path: Path, uid: int, gid: int, *, write: bool = False) -> bool:
    """Whether ``uid``:``gid`` (no other groups) can walk to ``path`` (and write in it)."""
    current = Path("/")
    for part in (*path.parts[1:], None):
        try:
            info = os.stat(current)
        except OSError:
            return False
        need = 0o3 if (part is None and write) else 0o1
        if info.st_uid == uid:
            bits = info.st_mode >> 6
        elif info.st_gid == gid:
            bits = info.st_mode >> 3
        else:
            bits = info.st_mode
        if uid != 0 and bits & need != need:
            return False
        if part is None:
            return True
        current = current / part
    return True


@dataclass(frozen=True)
class Workload:
    """The user a command runs as; ``switch``: bwrap is started as that user (the harness
    runs as root, the project is a user's)."""

    uid: int
    gid: int
    switch: bool

    @classmethod
    def for_project(cls, root: Path) -> Workload:
        if os.geteuid() != 0:
            return cls(os.getuid(), os.getgid(), switch=False)
        info = os.stat(root)
        if info.st_uid == 0:
            return cls(0, 0, switch=False)
        return cls(info.st_uid, info.st_gid, switch=True)

    def prefix(self) -> list[str]:
        """``setpriv ... --`` that starts bwrap as this user (nothing when no switch)."""
        if not self.switch:
            return []
        setpriv = program("setpriv")
        if setpriv is None:
            raise FileNotFoundError("setpriv (util-linux) is not installed")
        ids = [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        return [setpriv, *ids, "--"]

    def describe(self) -> str:
        if self.switch:
            return f"commands run as uid {self.uid} (the project's owner)"
        if self.uid == 0:
            return "commands run as root without capabilities (the project belongs to root)"
        return f"commands run as uid {self.uid}"


@dataclass(frozen=True)
class View:
    """The parts of a sandbox fixed for a runner: who, which ``/etc``, which Python."""

    bwrap: str
    workload: Workload
    etc: Path
    python: tuple[str, ...]  # the harness's interpreter folders the workload can read

    @classmethod
    def build(cls, bwrap: str, root: Path, extra_etc: tuple[str, ...] = ()) -> View:
        workload = Workload.for_project(root)
        state = _state(root, workload)
        etc = sandbox_etc.build(state, workload.uid, workload.gid, extra_etc)
        folders = sorted({sys.prefix, sys.base_prefix, str(Path(sys.executable).parent)})
        interpreter = Path(os.path.realpath(sys.executable))
        usable = all(reachable(Path(f), workload.uid, workload.gid) for f in folders)
        python = tuple(f for f in folders if os.path.isdir(f)) if usable else ()
        if usable and not reachable(interpreter, workload.uid, workload.gid):
            python = ()
        return cls(bwrap, workload, etc, python)


PACKAGE_ENV = {"npm_config_cache": f"{HOME}/.cache/npm"}
"""Where the tools whose cache is not under ``$HOME/.cache`` by default keep it (pip, uv,
poetry, yarn and go's build cache already do)."""


def package_folder(root: Path, workload: Workload) -> Path:
    """The project's package cache (``[runner] package_cache``): outside the project, in
    the sandbox folder of this user, writable by the workload's user alone. Only a trusted
    setup on a clean checkout mounts it (at ``$HOME/.cache``); the agent's commands never
    see it."""
    digest = hashlib.sha256(os.fsencode(str(root))).hexdigest()[:16]
    folder = _state(root, workload) / "packages" / digest
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and workload.switch:
        os.chown(folder, workload.uid, workload.gid)
    os.chmod(folder, 0o700)
    os.utime(folder)  # in use: not pruned
    _prune_packages(folder.parent, keep=folder)
    return folder


def _prune_packages(parent: Path, keep: Path) -> None:
    """Remove the package caches (of any project of this user) unused for
    :data:`sandbox_etc.UNUSED_S`: a project gone or switched off leaves none behind."""
    now = time.time()
    try:
        caches = list(parent.iterdir())
    except OSError:
        return
    for path in caches:
        try:
            unused = now - path.lstat().st_mtime > sandbox_etc.UNUSED_S
        except OSError:
            continue
        if path != keep and unused:
            remove_tree(path)


def trim_packages(folder: Path, disk_mb: int | None) -> str:
    """Empty the package cache ``folder`` when it holds more than ``disk_mb`` MiB (the
    same budget as the workspace's, for the cache alone) or cannot be measured; what to
    tell the setup's output ("" when it is kept)."""
    if disk_mb is None:
        return ""
    try:
        used = disk.workspace_bytes(folder, stop_above=disk_mb * disk.MB)
    except disk.Unmeasured as error:
        why = f"could not be measured ({error})"
    else:
        if used <= disk_mb * disk.MB:
            return ""
        why = f"held more than [runner] disk_mb ({disk_mb:,} MiB)"
    left = remove_tree(folder)
    done = "emptied" if not left else f"could not be emptied ({left[0].path}: {left[0].reason})"
    return f"harness: the package cache {why}: {done}; the next setup downloads again.\n"


def _state(root: Path, workload: Workload) -> Path:
    """Where the curated ``/etc`` lives: the user's cache, shared by every project, when the
    workload's user can reach it; else a folder of this user in the system's temp folder
    (searchable by all, writable by this user alone); else the project's ``.harness``."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    shared = Path(tempfile.gettempdir()) / f"harness-sandbox-{os.geteuid()}"
    for folder in (Path(cache) / "harness" / STATE, shared, root / ".harness" / STATE):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue  # not this user's own folder (another user made it first)
            os.chmod(folder, 0o755)
        except OSError:
            continue
        if reachable(folder, workload.uid, workload.gid):
            return folder
    raise OSError(f"no folder for the sandbox's /etc that uid {workload.uid} can reach")


def sandbox_args(
    view: View,
    *,
    root: Path,
    tree: Path,
    network: bool,
    workdir: Path,
    protected: list[str],
    hidden: list[str],
    carry: dict[str, Path],
    keys: str | None,
    packages: Path | None = None,
) -> list[str]:
    """The bwrap command line up to (not including) the command; ``tree`` is mounted at
    ``root`` (the project itself, or a clean checkout of it)."""
    args = [*view.workload.prefix(), view.bwrap, "--unshare-all", "--die-with-parent"]
    args += ["--new-session", "--cap-drop", "ALL"]
    if network:
        args.append("--share-net")
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    args += ["--ro-bind", str(view.etc), "/etc"]
    if network:
        args += sandbox_etc.network_binds(view.etc)
    args += ["--dev", "/dev", "--proc", "/proc"]
    size = str(TMPFS_MB * 1024 * 1024)
    args += ["--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", HOME]
    if packages is not None:  # a trusted setup's package cache, kept between wakes
        args += ["--bind", str(packages), f"{HOME}/.cache"]
    # After the private /tmp: a harness installed under /tmp (a clone, a CI checkout)
    # must stay visible, and bwrap mounts in order.
    for prefix in view.python:
        args += ["--ro-bind", prefix, prefix]
    top = str(root)
    args += ["--bind", str(tree), top]
    if tree != root and (root / ".git").is_dir():  # a checkout: the project's history, read-only
        args += ["--ro-bind", str(root / ".git"), f"{top}/.git"]
    for relative, source in carry.items():  # read-only, as the work tree has them
        args += ["--ro-bind", str(source), f"{top}/{relative}"]
    args += _project_binds(tree, top, protected, hidden)
    if keys is not None:  # the journal's HMAC keys: never visible to a workload
        args += ["--tmpfs", keys]
    args += ["--chdir", str(workdir)]
    return args


def _project_binds(tree: Path, top: str, protected: list[str], hidden: list[str]) -> list[str]:
    """Pinned folders, then protected paths read-only over themselves and hidden paths
    covered (an empty read-only folder, or ``/dev/null`` for a file), shallowest first (a
    deeper bind lands on top)."""
    mounts, covered = protect.covered(tree, protected, hidden)
    args: list[str] = []
    for relative in mounts.pinned:
        args += ["--bind", f"{tree}/{relative}", f"{top}/{relative}"]
    for relative in mounts.readonly:
        source, target = f"{tree}/{relative}", f"{top}/{relative}"
        if relative not in covered:
            args += ["--ro-bind", source, target]
        elif os.path.isdir(source):
            args += ["--tmpfs", target, "--remount-ro", target]
        else:
            args += ["--ro-bind", "/dev/null", target]
    return args
