"""Programs the harness starts on the host, found where the agent cannot put one.

``PATH`` may hold entries that resolve against the current directory (an empty entry,
``.``, ``bin``) or that lie inside the project (a ``node_modules/.bin`` added by a shell
hook): when the harness runs in the project, a ``git`` or ``bwrap`` the agent wrote there
would run on the host as the user. :func:`trusted_path` keeps only absolute entries
outside the project; :func:`program` finds a program on it and returns its absolute path,
which is what every host subprocess of the harness is started by.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin"


_RESOLVED: dict[str, tuple[tuple[int, int], str]] = {}
"""Paths resolved before: the path -> the file it named then (its device and inode) and
its resolved path. Every host git call filtered PATH, resolving each entry and the
project again (~0.25 ms of CPU a call, ~20 calls per run a fleet worker takes over)."""
_RESOLVED_MAX = 256


def _resolve(path: str) -> str:
    """``str(Path(path).resolve())``, remembered while ``path`` names the same file: one
    ``stat`` (following its links) tells, so a link on its way re-pointed since (a PATH
    entry into the project, say) is resolved again; a path that names nothing is
    resolved each time, and so is a relative one (it depends on the working folder)."""
    if not os.path.isabs(path):
        return str(Path(path).resolve())
    try:
        info = os.stat(path)
    except OSError:
        return str(Path(path).resolve())
    named = (info.st_dev, info.st_ino)
    kept = _RESOLVED.get(path)
    if kept is not None and kept[0] == named:
        return kept[1]
    resolved = str(Path(path).resolve())
    if len(_RESOLVED) >= _RESOLVED_MAX:
        _RESOLVED.clear()
    _RESOLVED[path] = (named, resolved)
    return resolved


def _inside(entry: str, folder: str) -> bool:
    try:
        resolved = _resolve(entry)
    except (OSError, RuntimeError):
        return True  # cannot tell: not trusted
    return resolved == folder or resolved.startswith(folder.rstrip("/") + "/")


def trusted_path(path: str | None = None, *, outside: Path | None = None) -> str:
    """``path`` (default: this process's ``PATH``) without relative or empty entries and
    without entries inside ``outside`` (the project), order kept; the system folders when
    nothing is left."""
    raw = os.environ.get("PATH", FALLBACK_PATH) if path is None else path
    folder = _resolve(os.fspath(outside)) if outside is not None else None
    kept: list[str] = []
    for entry in raw.split(os.pathsep):
        if not entry or not os.path.isabs(entry) or entry in kept:
            continue
        if folder is not None and _inside(entry, folder):
            continue
        kept.append(entry)
    return os.pathsep.join(kept) or FALLBACK_PATH


def program(name: str, *, outside: Path | None = None, path: str | None = None) -> str | None:
    """The absolute path of ``name`` on :func:`trusted_path`, or None when it is not there
    (``path``: that trusted path, computed by the caller for ``outside``)."""
    return shutil.which(name, path=trusted_path(outside=outside) if path is None else path)


def harness_command(*args: str, module: str = "harness") -> list[str]:
    """``python -P -m harness args``: this interpreter, without the current folder on
    ``sys.path`` (``-m`` would put it first: a ``harness/`` package the agent wrote in the
    project would run instead of harness). Start it with :func:`child_env` and a cwd
    outside the project (:data:`NEUTRAL_CWD`)."""
    return [sys.executable, "-P", "-m", module, *args]


NEUTRAL_CWD = "/"
"""The working folder of a harness child: no relative name can resolve in the project."""


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a harness child, with ``PATH`` and ``PYTHONPATH``
    stripped of relative and empty entries (they would resolve against a folder the agent
    may write), then ``extra``."""
    env = dict(os.environ)
    env["PATH"] = trusted_path()
    if "PYTHONPATH" in env:
        kept = [p for p in env["PYTHONPATH"].split(os.pathsep) if p and os.path.isabs(p)]
        if kept:
            env["PYTHONPATH"] = os.pathsep.join(kept)
        else:
            del env["PYTHONPATH"]
    env.update(extra or {})
    return env
