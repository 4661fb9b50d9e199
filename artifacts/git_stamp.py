"""The stamp of the files git reads a repository's own config from.

:func:`artifacts.git_safety.check_config` keeps its verdict under this stamp and checks
again whenever it differs. The stamp is each file's device, inode, size, mode, mtime and
ctime in ns (through links, and of the link itself), plus the ``.git`` file of a worktree
and its ``commondir``. It is None, so the check runs, when it cannot be trusted:

- a file written less than :data:`SETTLE_S` ago: a rewrite in place within the same
  timestamp tick and of the same size would keep every field (git's own "racy clean"
  problem; a tick is at most 10 ms on Linux filesystems, 2 s on FAT). Once a file is
  older than that, any write moves its ctime to now, and no user can set ctime back;
- ``root/.git`` that git would not take for a repository (no valid HEAD, no objects or
  refs, no config): git would then search the parent folders and read their config;
- anything unexpected (an unreadable ``.git`` file).

Includes are not followed: a config that includes another file is refused by the check,
so a clean verdict never depends on a file outside the stamp.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

SETTLE_S = 3.0
_clock = time.time  # the wall clock file times are taken from (tests set it forward)
_HEAD = re.compile(rb"(ref: refs/\S+|[0-9a-f]{40}|[0-9a-f]{64})\s*")


def _file_stamp(path: Path, now: float) -> tuple[object, ...] | None:
    """(lstat, stat) of ``path``; "absent" if it is not there; None if it changed lately."""
    try:
        link = path.lstat()
    except FileNotFoundError:
        return (str(path), "absent")
    try:
        info = path.stat()
    except FileNotFoundError:
        info = link  # a dangling link: git reads no file there
    stamps = (link, info)
    if any(now - max(s.st_mtime_ns, s.st_ctime_ns) / 1e9 < SETTLE_S for s in stamps):
        return None
    fields = [
        (s.st_dev, s.st_ino, s.st_size, s.st_mode, s.st_mtime_ns, s.st_ctime_ns) for s in stamps
    ]
    return (str(path), *fields)


def _is_repository(gitdir: Path, common: Path) -> bool:
    """What git checks before it takes a folder for a repository (setup.c)."""
    try:
        head = (gitdir / "HEAD").read_bytes()[:200]
    except OSError:
        return False
    return (
        bool(_HEAD.fullmatch(head)) and (common / "objects").is_dir() and (common / "refs").is_dir()
    )


def config_stamp(root: Path, now: float | None = None) -> tuple[object, ...] | None:
    """The stamp of the repository's own config files at ``root``, or None (see above)."""
    now = _clock() if now is None else now
    dot = root / ".git"
    parts: list[tuple[object, ...] | None] = []
    try:
        if dot.is_dir():
            gitdir = dot  # the files below are stamped through it, links followed
        else:  # a worktree or submodule: "gitdir: <path>"
            parts.append(_file_stamp(dot, now))
            text = dot.read_text(encoding="utf-8").strip()
            if not text.startswith("gitdir: "):
                return None
            gitdir = root / text.removeprefix("gitdir: ")
        common = gitdir
        pointer = gitdir / "commondir"
        parts.append(_file_stamp(pointer, now))
        if pointer.is_file():
            common = gitdir / pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not _is_repository(gitdir, common) or not (common / "config").is_file():
        return None
    for path in (common / "config", gitdir / "config.worktree", common / "config.worktree"):
        parts.append(_file_stamp(path, now))
    if any(part is None for part in parts):
        return None
    return tuple(parts)
