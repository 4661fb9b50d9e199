"""Acceptance tests the working agent cannot read: ``[verify] hidden``.

A hidden path (a file or folder, e.g. ``tests/acceptance``, written by the initializer or
a person) is covered in the agent's sandbox (an empty read-only folder or file in its
place: runners/bwrap.py, runners/docker_support.py), refused by its file tools
(session/paths.py) and never committed to git: the sandbox shows `.git`, so a committed
file could be read through `git show`. :func:`exclude_locally` keeps git from listing them
(``.git/info/exclude``, not the user's `.gitignore`); :func:`tracked` finds a hidden path
that git already holds, which cannot be hidden.

At wake the session records what the hidden files are (:func:`snapshot`, a journaled step:
each file's digest); every clean checkout a check runs on gets exactly those bytes
(:func:`lay`): a hidden file changed during the session (the local runner cannot stop a
command from writing it) makes the check fail, saying so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from artifacts.git_safety import run_git

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks
    from artifacts.models import Feature

MAX_FILES = 10_000
MAX_BYTES = 256 * 1024 * 1024
EXCLUDE_HEADER = "# hidden from the agent by harness ([verify] hidden in harness.toml)"


class HiddenFiles(BaseModel):
    """The hidden files as the session found them: path -> sha256 digest."""

    files: dict[str, str] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list)
    """Entries that are not regular files (links, devices) or past the limits: not laid."""


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def snapshot(root: Path, hidden: list[str]) -> HiddenFiles:
    """Every regular file under the hidden paths, with its digest (links are not followed:
    a hidden tree is plain files and folders)."""
    found = HiddenFiles()
    total = 0
    for relative in hidden:
        start = root / relative
        stack = [start] if os.path.lexists(start) else []
        while stack:
            path = stack.pop()
            name = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                stack.extend(sorted(path.iterdir(), reverse=True))
                continue
            size = path.lstat().st_size
            if not stat.S_ISREG(mode) or len(found.files) >= MAX_FILES or total + size > MAX_BYTES:
                found.skipped.append(name)
                continue
            total += size
            found.files[name] = _digest(path)
    return found


def lay(root: Path, dest: Path, files: HiddenFiles) -> list[str]:
    """Copy the hidden files into the checkout ``dest``; what could not be laid as
    recorded (changed or gone since the session started), one line each."""
    problems = []
    for name, wanted in files.files.items():
        source, target = root / name, dest / name
        try:
            if not stat.S_ISREG(source.lstat().st_mode):
                raise FileNotFoundError(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target, follow_symlinks=False)
        except OSError:
            problems.append(f"the hidden file {name} is gone or not a file any more")
            continue
        if _digest(target) != wanted:
            problems.append(f"the hidden file {name} changed since the session started")
    return problems


def coverage(features: list[Feature], hidden: list[str]) -> dict[str, list[str]]:
    """hidden path -> ids of the features whose check command names it."""
    return {
        path: [f.id for f in features if f.check and path.rstrip("/") in f.check] for path in hidden
    }


def brief_text(root: Path, features: list[Feature], hidden: list[str], sandboxed: bool) -> str:
    """The brief's section on hidden paths ("" without any)."""
    if not hidden:
        return ""
    lines = ["## Acceptance tests you cannot read"]
    for path, ids in coverage(features, hidden).items():
        what = f"used by the checks of {', '.join(ids)}" if ids else "used by the checks"
        count = len(snapshot(root, [path]).files)
        lines.append(f"- `{path}` ({count} file(s)): {what}")
    lines.append(
        "They are hidden from you on purpose (your file tools refuse them"
        + (", your commands see an empty placeholder" if sandboxed else "")
        + "). verify_feature runs them on a clean checkout and shows you their verdict and "
        "output: make the feature work as its description says, not as a guess at the test."
    )
    return "\n".join(lines)


def tracked(root: Path, hidden: list[str], checks: ConfigChecks | None = None) -> list[str]:
    """Hidden paths with files in HEAD (the agent could read them through `.git`)."""

    if not hidden or not (root / ".git").is_dir():
        return []
    done = run_git(
        root,
        "ls-tree",
        "-r",
        "--name-only",
        "HEAD",
        "--",
        *hidden,
        check=False,
        env={"GIT_LITERAL_PATHSPECS": "1"},
        checks=checks,
    )
    names = {os.fsdecode(n) for n in done.stdout.split(b"\n") if n}
    return [path for path in hidden if any(n == path or n.startswith(path + "/") for n in names)]


def exclude_locally(root: Path, hidden: list[str]) -> list[str]:
    """Add the hidden paths to ``.git/info/exclude`` (the repository's own, not the
    user's `.gitignore`) so git neither lists nor adds them; the paths added."""
    info = root / ".git" / "info"
    if not hidden or not (root / ".git").is_dir():
        return []
    exclude = info / "exclude"
    text = exclude.read_text("utf-8", "replace") if exclude.is_file() else ""
    lines = set(text.splitlines())
    added = [path for path in hidden if f"/{path}" not in lines]
    if added:
        info.mkdir(exist_ok=True)
        block = "" if EXCLUDE_HEADER in lines else EXCLUDE_HEADER + "\n"
        block += "".join(f"/{path}\n" for path in added)
        prefix = "" if not text or text.endswith("\n") else "\n"
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write(prefix + block)
    return added
