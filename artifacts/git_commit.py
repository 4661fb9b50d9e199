"""A commit of exactly the paths and bytes harness decided, made with git's plumbing.

:func:`commit_exact` builds the tree in a private index (``GIT_INDEX_FILE`` in a temporary
folder) from HEAD's tree, the work-tree files named in ``paths`` (their bytes on disk as
they are: no `.gitattributes` conversion, filter or ``ident``) and the in-memory
``blobs`` (the feature list harness wrote, never the file on disk), checks the tree
(only those paths changed, no protected path, every blob the exact bytes), then writes
the commit (by the user's git identity, harness in a trailer: :mod:`artifacts.git_identity`)
and moves the branch with ``update-ref`` against the old HEAD: the commit is
one atomic ref update, whatever the user staged stays staged, and a kill at any moment
leaves either no commit or the whole commit. :func:`sync_index` then brings the user's
index up to date for the committed paths. :func:`commit_retrying` clears the locks a killed
git left (:mod:`artifacts.git_locks`) and tries again; :func:`sync_to_commit` brings the
index in line with one commit's paths, after such locks are cleared too (a kill inside the
index sync leaves ``index.lock``). :func:`unsynced_paths` finds the paths of a commit whose
index entry is still its parent's: a kill between the commit and its sync, for a later
command to make good without touching what the user staged since.

Each function takes the caller's :class:`~artifacts.git_safety.ConfigChecks` (``checks``),
so the repository's config is checked before every git command but run again only when
its files changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_identity import commit_env, with_trailer
from artifacts.git_locks import clear_stale_locks
from artifacts.git_tree import _OBJECT_ID, ZERO, Git, _git, build_tree, head_sha
from harness.errors import CommitPending, GitError

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks

COMMIT_ATTEMPTS = 3
__all__ = [
    "commit_exact",
    "commit_retrying",
    "committed_blob",
    "committed_paths",
    "head_sha",
    "sync_index",
    "sync_to_commit",
    "unsynced_paths",
]


def _under(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def commit_exact(
    root: Path,
    message: str,
    *,
    paths: list[str],
    blobs: dict[str, bytes],
    protected: list[str],
    checks: ConfigChecks | None = None,
) -> str | None:
    """Commit ``paths`` (as on disk; deleted ones are removed) and ``blobs`` (these bytes);
    return the sha, or None when the tree would equal HEAD's. GitError on any failure,
    with HEAD unchanged."""
    git = _git(root, checks)
    head = head_sha(root, checks)
    allowed = set(paths) | set(blobs)
    bad = sorted(p for p in paths if _under(p, protected))
    if bad:
        raise GitError(f"refusing to commit protected paths: {', '.join(bad)}")
    tree, shas = build_tree(root, head, paths=paths, blobs=blobs, checks=checks)
    changed = _check_tree(git, head, tree, allowed, shas, protected)
    if head is not None and not changed:
        return None  # the tree equals HEAD's (diff-tree -r shows every difference)
    parents = ["-p", head] if head is not None else []

    env, users = commit_env(root, checks)
    text = with_trailer(message) if users else message
    done = git("commit-tree", tree, *parents, "-F", "-", input=text.encode(), env=env)
    sha = done.stdout.decode().strip()
    summary = message.split("\n", 1)[0][:200]
    git("update-ref", "-m", f"commit (harness): {summary}", "HEAD", sha, head or ZERO)
    if checks is not None:
        checks.moved_head(root, sha)
    return sha


def _check_tree(
    git: Git,
    head: str | None,
    tree: str,
    allowed: set[str],
    shas: dict[str, str],
    protected: list[str],
) -> list[str]:
    """The tree changes only ``allowed`` paths, no protected one but the harness's blobs,
    and holds each blob's exact bytes; the paths it changes (all of them without HEAD)."""
    if head is not None:
        out = git("diff-tree", "-r", "--name-only", "--no-renames", "-z", head, tree)
        changed = [os.fsdecode(p) for p in out.stdout.split(b"\0") if p]
    else:
        out = git("ls-tree", "-r", "--name-only", "-z", tree)
        changed = [os.fsdecode(p) for p in out.stdout.split(b"\0") if p]
    stray = [p for p in changed if p not in allowed or (_under(p, protected) and p not in shas)]
    if stray:
        raise GitError(f"the commit's tree would change paths harness did not decide: {stray[:5]}")
    literal = {"GIT_LITERAL_PATHSPECS": "1"}
    listed = (
        git("ls-tree", "-z", "--full-tree", tree, "--", *shas, env=literal).stdout if shas else b""
    )
    found: dict[str, str] = {}
    for entry in listed.split(b"\0"):
        if entry:  # "<mode> <type> <sha>\t<path>"
            meta, _, name = entry.partition(b"\t")
            found[os.fsdecode(name)] = meta.decode().split(" ")[2]
    for path, sha in shas.items():
        if found.get(path) != sha:
            raise GitError(f"the commit's tree holds other bytes for {path} than harness wrote")
    return changed


def committed_blob(
    root: Path, rev: str, path: str, checks: ConfigChecks | None = None
) -> bytes | None:
    """The bytes of ``path`` at ``rev``; None if it is not there. With ``checks`` (a
    run's), ``HEAD`` is the commit it names (:func:`head_sha`) and an answer about one
    commit is kept (:meth:`ConfigChecks.at_commit`)."""

    def ask(at: str) -> bytes | None:
        done = _git(root, checks)("cat-file", "blob", f"{at}:{path}", check=False)
        return done.stdout if done.returncode == 0 else None

    commit = head_sha(root, checks) if checks is not None and rev == "HEAD" else rev
    if checks is None or commit is None or not _OBJECT_ID.fullmatch(commit):
        return ask(rev)  # no run, no commit at HEAD, or a name that can move: git's answer
    return checks.at_commit(root, ("blob", commit, path), lambda: ask(commit))


def sync_index(root: Path, paths: list[str], checks: ConfigChecks | None = None) -> None:
    """The user's index takes HEAD's entries for ``paths`` (after a plumbing commit)."""
    if not paths or head_sha(root, checks) is None:
        return
    listing = b"".join(os.fsencode(p) + b"\0" for p in paths)
    literal = {"GIT_LITERAL_PATHSPECS": "1"}
    _git(root, checks)(
        "reset",
        "-q",
        "--pathspec-from-file=-",
        "--pathspec-file-nul",
        input=listing,
        env=literal,
    )


def committed_paths(root: Path, sha: str, checks: ConfigChecks | None = None) -> list[str]:
    """The paths commit ``sha`` added, changed or removed (all of them for a first commit)."""
    out = _git(root, checks)(
        "diff-tree", "--root", "--no-commit-id", "-r", "--name-only", "-z", sha
    )
    return [os.fsdecode(p) for p in out.stdout.split(b"\0") if p]


def commit_retrying(
    root: Path,
    message: str,
    *,
    paths: list[str],
    blobs: dict[str, bytes],
    protected: list[str],
    kept: str,
    say: Callable[[str], None],
    checks: ConfigChecks | None = None,
) -> str | None:
    """:func:`commit_exact`, clearing the stale locks a killed git left (``HEAD.lock``, a
    branch's ``.lock`` after a kill inside ``update-ref``) and trying again; CommitPending
    (the step stays in flight) if it still cannot be made. ``kept`` says what is kept for
    the next try; ``say`` is told of every lock removed. GitBusy (exit 6) if a live
    process holds a lock past the wait."""

    last = ""
    for _ in range(COMMIT_ATTEMPTS):
        try:
            return commit_exact(
                root, message, paths=paths, blobs=blobs, protected=protected, checks=checks
            )
        except GitError as error:
            last = str(error)
            for note in clear_stale_locks(root):
                say(note)
    raise CommitPending(f"the commit could not be made ({last}); {kept}")


def sync_to_commit(
    root: Path, sha: str, say: Callable[[str], None], checks: ConfigChecks | None = None
) -> list[str]:
    """The user's index takes HEAD's entries for every path commit ``sha`` changed, after
    the stale locks a kill left are cleared (``say`` is told): run again after a kill, it
    ends in the same index. Returns those paths."""

    for note in clear_stale_locks(root):
        say(note)
    paths = committed_paths(root, sha, checks)
    sync_index(root, paths, checks)
    return paths


def unsynced_paths(root: Path, sha: str, checks: ConfigChecks | None = None) -> list[str]:
    """The paths commit ``sha`` changed whose entry in the user's index is still the one
    of its parent (mode and blob; absent where the parent had none): the index sync after
    that commit never ran. A path the user staged anything else for is not among them."""
    run = _git(root, checks)
    out = run("diff-tree", "--root", "--no-commit-id", "-r", "-z", "--no-renames", sha).stdout
    fields = out.split(b"\0")
    before: dict[str, tuple[str, str] | None] = {}
    for head, path in zip(fields[0::2], fields[1::2], strict=False):
        if not head.startswith(b":"):
            continue
        old_mode, _, old_blob, _, _ = head[1:].decode().split(" ")
        before[os.fsdecode(path)] = None if old_blob == ZERO else (old_mode, old_blob)
    if not before:
        return []
    literal = {"GIT_LITERAL_PATHSPECS": "1"}
    listed = run("ls-files", "-s", "-z", "--", *before, env=literal).stdout
    index: dict[str, tuple[str, str]] = {}
    for entry in listed.split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            mode, blob, _stage = meta.decode().split(" ")
            index[os.fsdecode(path)] = (mode, blob)
    return [path for path, old in before.items() if index.get(path) == old]
