"""The commit of `harness adopt`: harness's own files, and only those.

What adopt wrote (the upgraded feature list, progress.md, harness.toml, a minimal init.sh)
is committed; a file it did not write stays the user's, committed or not. An adopt that
was interrupted after its writes finishes here: while no adopt commit exists, a harness
file adopt writes that is on disk but not in HEAD (the upgraded list, an untracked
progress.md or harness.toml, its own init.sh) is taken too. ``.gitignore`` is committed as
HEAD's version plus harness's lines, so a user's uncommitted edit of it stays theirs. A
harness file that git ignores is committed all the same (a tracked file is not ignored) and
said. In a repository without a commit (none was there, or a killed `git init` or adopt
left one), the quickstart's own files (spec, notes, init.sh) go into the first commit too,
so HEAD holds the init.sh harness trusts. An adopt killed between its commit and the index
sync is made good by the next adopt: while HEAD is the adopt commit, its paths whose index
entry is still the one before it take HEAD's.
"""

from __future__ import annotations

import json
from pathlib import Path

from artifacts.git import GitRepo
from artifacts.git_commit import committed_blob, head_sha, sync_index, unsynced_paths
from artifacts.git_locks import clear_stale_locks
from artifacts.git_safety import run_git
from artifacts.gitignore import harness_lines
from harness.config import load_config
from initializer.first_commit import Say, ensure_repository, make_first_commit

ADOPT_TRAILER = "Harness-Adopt"
QUICKSTART_FILES = ("app_spec.txt", "claude-progress.txt", "init.sh")

INIT_SH = """#!/usr/bin/env bash
# Written by `harness adopt`: this project had no init.sh. harness runs it at the start of
# every session to bring the environment up and smoke-test it; a failure here is the
# session's first problem. Replace these lines with the project's own setup.
set -euo pipefail
echo "init.sh: no setup steps yet (written by harness adopt)"
"""


def commit_adoption(
    root: Path, wrote: dict[str, bool], *, lines: list[str], say: Say
) -> str | None:
    """Commit adopt's files (see the module docstring); say in ``lines`` what was
    committed and what was not, and through ``say`` what git needed on the way (a
    repository made again, a file left out, a lock cleared). The sha, or None when
    nothing needed committing."""

    config = load_config(root)
    ensure_repository(root, say)
    head = head_sha(root)
    adopted = None if head is None else _adopt_commit(root)
    if adopted is not None and adopted == head:
        _sync_killed(root, head, lines)
    first = adopted is None
    paths = [p for p, done in wrote.items() if done or (first and _left_by_adopt(root, p, head))]
    if head is None:  # the first commit: HEAD is to hold the init.sh harness trusts
        paths += [p for p in QUICKSTART_FILES if (root / p).is_file() and p not in paths]
    blobs: dict[str, bytes] = {}
    if head is None:  # no history: the .gitignore on disk is the first one
        paths += [".gitignore"] if (root / ".gitignore").is_file() else []
    else:
        ignore = _gitignore_blob(root, committed_blob(root, head, ".gitignore"))
        if ignore is not None:
            blobs[".gitignore"] = ignore
    paths = [p for p in paths if (root / p).exists()]
    _say_ignored(root, [*paths, *blobs], lines)
    kept = _user_edits(root, head, wrote)
    if kept:
        lines.append(
            f"not committed (your uncommitted changes, left as they are): {', '.join(kept)}"
        )
    if not paths and not blobs:
        return None
    message = "harness adopt: " + ", ".join([*paths, *blobs]) + f"\n\n{ADOPT_TRAILER}: 1"
    sha = make_first_commit(
        root, config, message, paths, say=say, again="harness adopt", blobs=blobs
    )
    if sha:
        shown = [*paths, *(f"{p} (harness's lines only)" for p in blobs)]
        lines.append(f"committed {', '.join(shown)}: {sha[:10]}")
    return sha


def _adopt_commit(root: Path) -> str | None:
    """The newest adopt commit, or None."""

    with GitRepo.open(root) as repo:
        return repo.find_commit_with_trailer(ADOPT_TRAILER, "1")


def _sync_killed(root: Path, head: str, lines: list[str]) -> None:
    """HEAD is adopt's commit: the paths of it whose index entry is still as before it
    (an adopt killed between its commit and the index sync) take HEAD's entries, so they
    are not staged as deletions for the user's next `git commit`; what the user staged
    since is left alone."""

    for note in clear_stale_locks(root):  # a kill inside the sync leaves index.lock
        lines.append(note)
    behind = unsynced_paths(root, head)
    if behind:
        sync_index(root, behind)
        lines.append(
            f"the index now holds the adopt commit's {', '.join(behind)} (an earlier adopt "
            "was stopped before it synced the index)"
        )


def _left_by_adopt(root: Path, path: str, head: str | None) -> bool:
    """A file an interrupted adopt wrote and did not commit."""

    full = root / path
    if not full.is_file():
        return False
    old = committed_blob(root, head, path) if head else None
    if path == "feature_list.json":
        return _is_harness_list(full.read_bytes()) and (old is None or not _is_harness_list(old))
    if path == "init.sh":
        return old is None and full.read_bytes() == INIT_SH.encode()
    return old is None


def _is_harness_list(data: bytes) -> bool:
    try:
        parsed = json.loads(data)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("version") == 1 and "features" in parsed


def _gitignore_blob(root: Path, head: bytes | None) -> bytes | None:
    """HEAD's .gitignore plus the harness lines the file on disk has and HEAD lacks (None:
    nothing of harness's to commit)."""

    path = root / ".gitignore"
    if not path.is_file() or path.is_symlink():
        return None
    ours = harness_lines(path.read_bytes(), head or b"")
    if not ours:
        return None
    base = head or b""
    newline = b"\r\n" if b"\r\n" in (base or path.read_bytes()) else b"\n"
    if base and not base.endswith(b"\n"):
        base += newline
    return base + b"".join(line + newline for line in ours)


def _say_ignored(root: Path, paths: list[str], lines: list[str]) -> None:
    """Name each harness file git ignores, with the rule: it is committed all the same."""

    if not paths:
        return
    listing = b"".join(path.encode() + b"\0" for path in paths)
    done = run_git(
        root, "check-ignore", "-v", "--no-index", "-z", "--stdin", input=listing, check=False
    )
    fields = done.stdout.split(b"\0")
    for source, number, pattern, path in zip(*[iter(fields)] * 4, strict=False):
        where = f"{source.decode(errors='replace')}:{number.decode()}"
        lines.append(
            f"{path.decode(errors='replace')} is ignored by git ({where}: "
            f"{pattern.decode(errors='replace')}): committed all the same, since harness "
            "needs it in git (a tracked file is not ignored)"
        )


def _user_edits(root: Path, head: str | None, wrote: dict[str, bool]) -> list[str]:
    """Harness's files that differ from HEAD by an edit that is not adopt's."""

    if head is None:
        return []
    edited = []
    for path in ("init.sh", "harness.toml", "progress.md", "feature_list.json"):
        full = root / path
        if wrote.get(path) or not full.is_file():
            continue
        old = committed_blob(root, head, path)
        if old is not None and old != full.read_bytes() and not _left_by_adopt(root, path, head):
            edited.append(path)
    return edited
