"""A run's project on this machine: fetched at the run's commit, published to its branch.

Each run has a folder ``<work root>/<run id>/project``, shared by the workers of the
machine (a run taken over by another worker here goes on in place). A machine that has no
folder for the run yet (a run taken over from a lost machine) restores the run's last
work-tree checkpoint (``fleet.checkpoint``) from its journal.
The first drive clones the submitted project (a local path or a git URL) and
puts the run's branch ``harness/<run id>`` at the commit recorded at submit; publish pushes
that branch back to the project, so the session commits reach the user's repository.
Git here runs with no hook of ours (``core.hooksPath=/dev/null``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from fleet.checkpoint import fingerprint, restore
from fleet.hostgit import git
from harness.errors import GitError

LOCK_WAIT_S = 120.0
BRANCH_PREFIX = "harness/"
T = TypeVar("T")


class Checkpoints(Protocol):
    """A run's work-tree checkpoints, kept where every machine reads them."""

    def latest_digest(self) -> str | None: ...

    def load(self, digest: str) -> bytes: ...


class Aside(Protocol):
    """Where blocking git work runs (``fleet.drives.Drives.aside``); its value."""

    def __call__(self, work: Callable[[], T]) -> T: ...


def inline(work: Callable[[], T]) -> T:
    """Blocking work on the caller's thread (no drive to park)."""
    return work()


def branch_of(run_id: str) -> str:
    return BRANCH_PREFIX + run_id


def source_of(project: str) -> str:
    """What `submit` was given, as git can fetch it: an absolute path or the URL itself."""
    if "://" in project or project.startswith("git@"):
        return project
    return str(Path(project).resolve())


def head_of(source: str) -> str:
    """The commit the source's HEAD names now (what a new run starts from)."""
    if Path(source).is_dir():
        return git(Path(source), "rev-parse", "HEAD")
    found = git(None, "ls-remote", source, "HEAD").split()
    if not found:
        raise GitError(f"{source} has no HEAD to start a run from")
    return found[0]


class RunFolder:
    """``<work root>/<run>``: the project and the lock its driving worker holds."""

    def __init__(self, work_root: Path, run_id: str) -> None:
        self.path = work_root / run_id
        self.project = self.path / "project"
        self.mark = self.path / "checkpoint"
        self._lock_fd: int | None = None

    def lock(self, wait_s: float = LOCK_WAIT_S) -> bool:
        """Hold the folder for this process, waiting up to ``wait_s`` for a process of this
        machine that still drives the run (a worker declared lost stops at its next step);
        False if it still holds it then."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        end = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > end:
                    os.close(fd)
                    return False
                time.sleep(0.2)
                continue
            self._lock_fd = fd
            return True

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def marked(self) -> str | None:
        """The digest of the last checkpoint this folder took or was restored from (the
        note's first word; a checkpoint taken here adds the tree's fingerprint then)."""
        try:
            words = self.mark.read_text().split()
        except FileNotFoundError:
            return None
        return words[0] if words else None

    def ensure(
        self, source: str, run_id: str, base: str, checkpoints: Checkpoints | None = None,
        aside: Aside = inline,
    ) -> str | None:  # fmt: skip
        """The project here at the run's branch: kept as it is when this machine has it and
        the run's last checkpoint is this folder's own; else cloned, then put in the state
        of that checkpoint (its commits and uncommitted files, from the run's journal),
        else at the published branch, else at ``base``. What it did, when it did. The
        clone and its git run by ``aside`` (``fleet.drives.Drives.aside``: off the drive
        thread)."""
        latest = None if checkpoints is None else checkpoints.latest_digest()
        note = ""
        if (self.project / ".git").exists():
            if latest is None or self.marked() == latest:
                return None
            # The run went on on another machine since this copy's last checkpoint (this
            # machine was declared lost, then given the run back): that copy is stale.
            stale = self.path / "project.stale"
            shutil.rmtree(stale, ignore_errors=True)
            self.project.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
            note = "; this machine's older copy was dropped"
        data = None if checkpoints is None or latest is None else checkpoints.load(latest)
        return aside(lambda: self._clone(source, run_id, base, latest, data)) + note

    def _clone(
        self, source: str, run_id: str, base: str, latest: str | None, data: bytes | None
    ) -> str:
        """Clone ``source`` here, at checkpoint ``latest`` (its bytes ``data``) when there
        is one, else at the run's published branch, else at ``base``; what it did."""
        partial = self.path / "project.partial"
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
        git(None, "clone", "--quiet", "--no-checkout", source, str(partial))
        branch = branch_of(run_id)
        _copy_identity(Path(source), partial)
        if data is not None:
            head = restore(partial, data, branch)
            partial.rename(self.project)
            # the tree is that checkpoint: its first step here stores none again
            self.mark.write_text(f"{latest} {fingerprint(self.project)}\n")
            return f"work tree restored from its last checkpoint (HEAD {head[:12]})"
        published = git(partial, "ls-remote", "origin", f"refs/heads/{branch}")
        start = published.split()[0] if published else base
        if published:
            git(partial, "fetch", "--quiet", "origin", f"refs/heads/{branch}")
        git(partial, "checkout", "--quiet", "-B", branch, start)
        partial.rename(self.project)
        return f"cloned at {'its published branch' if published else 'its base'} {start[:12]}"

    def publish(self, run_id: str, aside: Aside = inline) -> str:
        """Push the run's branch to the project it came from (its git by ``aside``); the
        commit pushed."""

        def push() -> str:
            head = git(self.project, "rev-parse", "HEAD")
            git(self.project, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch_of(run_id)}")
            return head

        return aside(push)


def _copy_identity(source: Path, clone: Path) -> None:
    """The commits keep the user's identity: user.name/email of a local source repository."""
    if not source.is_dir():
        return
    for key in ("user.name", "user.email"):
        value = git(source, "config", "--get", key, check=False)
        if value:
            git(clone, "config", key, value)
