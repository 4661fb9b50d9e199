"""Git's lock files: a stale one is cleared, a live one is waited for, then refused.

A git process that dies (SIGKILL, power loss) inside ``git commit`` leaves ``.git/index.lock``
or a ref's ``.lock`` behind, and every later git command that writes refuses to run. A lock
is **stale** only when it is checked to be: no live process has the file open (``/proc/*/fd``)
and no live git process works in the repository (its cwd is the work tree or inside
``.git``: git closes a ref lock's descriptor before renaming it). Anything else is a lock
that a live process holds: harness waits a bounded time, then stops with :class:`GitBusy`
(exit 6) naming the process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import GitBusy as _GitBusy

_TOP_LOCKS = ("index.lock", "HEAD.lock", "ORIG_HEAD.lock", "packed-refs.lock", "shallow.lock")


class GitBusy(_GitBusy):
    """A git lock file belongs to a live process."""

    def __init__(self, lock: Path, pids: list[int]) -> None:
        self.lock = lock
        self.pids = pids
        who = ", ".join(f"pid {pid} ({_cmdline(pid)})" for pid in pids[:3])
        super().__init__(
            f"{lock} is held by a live process: {who}. Wait for it to finish (or stop it), "
            "then run `harness run` again; the session resumes where it stopped."
        )


@dataclass(frozen=True)
class Lock:
    path: Path
    holders: tuple[int, ...]


def lock_files(git_dir: Path) -> list[Path]:
    """The lock files git leaves in ``git_dir``: index, HEAD, packed-refs, refs/**."""
    found = [git_dir / name for name in _TOP_LOCKS if (git_dir / name).exists()]
    refs = git_dir / "refs"
    if refs.is_dir():
        found += sorted(refs.rglob("*.lock"))
    return found


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()[:120] or "?"


def holders(lock: Path, root: Path, git_dir: Path) -> list[int]:
    """Live processes that have ``lock`` open or are git processes working in the repo."""
    proc = Path("/proc")
    if not proc.is_dir():
        return [0]  # cannot check here: treat as held (never guess "stale")
    target = str(lock.absolute())
    places = (str(root.resolve()), str(git_dir.resolve()))
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            fds = []
        if any(_readlink(fd) == target for fd in fds):
            found.append(pid)
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm != "git" and not comm.startswith("git-"):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except PermissionError:
            found.append(pid)  # a git process whose cwd we may not read: assume it is ours
            continue
        except OSError:
            continue  # gone, or a zombie (no cwd): it holds nothing
        if _state(entry) in ("Z", "X"):
            continue
        inside = any(cwd == place or cwd.startswith(place + "/") for place in places)
        if inside:
            found.append(pid)
    return found


def _state(entry: Path) -> str:
    try:
        return entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def clear_stale_locks(root: Path, *, wait_s: float = 10.0, poll_s: float = 0.2) -> list[str]:
    """Remove the stale lock files of the repository at ``root``; return a note per lock.

    A lock held by a live process is waited for up to ``wait_s``; GitBusy if it stays.
    """
    git_dir = root / ".git"
    if not git_dir.is_dir():
        return []
    notes: list[str] = []
    deadline = time.monotonic() + wait_s
    for lock in lock_files(git_dir):
        while True:
            if not lock.exists():
                break
            live = holders(lock, root, git_dir)
            if not live:
                try:
                    lock.unlink()
                except FileNotFoundError:
                    break
                notes.append(
                    f"removed {lock.relative_to(root)}: a stale git lock left by a git "
                    "process that no longer runs (checked: no live process holds it)"
                )
                break
            if time.monotonic() >= deadline:
                raise GitBusy(lock, live)
            time.sleep(poll_s)
    return notes
