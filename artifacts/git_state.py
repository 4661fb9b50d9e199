"""Whether harness may work in a repository now: the checks of every wake.

:func:`preflight` runs before a run opens its journal and at every session's wake, so a
repository harness must not commit into is refused before any model call is paid for
(:class:`~harness.errors.GitRefused`, exit 2): mid-rebase, mid-merge, mid-cherry-pick,
mid-revert, bisecting, unresolved conflicts, a detached HEAD, or a config that would run a
program. Stale lock files are cleared on the way (:mod:`artifacts.git_locks`).
"""

from __future__ import annotations

from pathlib import Path

from artifacts.git_locks import clear_stale_locks
from artifacts.git_safety import ConfigChecks, check_config, run_git
from artifacts.git_stamp import index_digest
from harness.errors import GitRefused

# (marker in .git, what is going on, what to do)
_STATES: tuple[tuple[str, str, str], ...] = (
    ("rebase-merge", "a rebase", "git rebase --continue (after resolving) or git rebase --abort"),
    ("rebase-apply/applying", "a `git am`", "git am --continue or git am --abort"),
    ("rebase-apply", "a rebase", "git rebase --continue (after resolving) or git rebase --abort"),
    ("MERGE_HEAD", "a merge", "commit the merge (after resolving) or git merge --abort"),
    (
        "CHERRY_PICK_HEAD",
        "a cherry-pick",
        "git cherry-pick --continue (after resolving) or git cherry-pick --abort",
    ),
    ("REVERT_HEAD", "a revert", "git revert --continue (after resolving) or git revert --abort"),
    ("BISECT_LOG", "a bisect", "git bisect reset"),
)


def repository_state(root: Path, checks: ConfigChecks | None = None) -> str | None:
    """Why harness may not commit in ``root`` now, with what to do; None if it may."""

    git_dir = root / ".git"
    for marker, what, fix in _STATES:
        if (git_dir / marker).exists():
            return (
                f"{root} is in the middle of {what}; harness would commit into it. "
                f"Finish or stop it first ({fix}), then run `harness run` again."
            )
    head = git_dir / "HEAD"
    if head.is_file() and not head.read_text(encoding="utf-8", errors="replace").startswith(
        "ref: "
    ):
        return (
            f"{root} has a detached HEAD; harness commits onto a branch. Check out a branch "
            "(git switch <branch>, or git switch -c <new-branch> to keep this commit), then "
            "run `harness run` again."
        )
    unmerged = _unmerged(root, checks)
    if unmerged:
        records = [rec for rec in unmerged.split(b"\0") if rec]
        paths = sorted({rec.split(b"\t", 1)[-1].decode("utf-8", "replace") for rec in records})
        return (
            f"{root} has unresolved merge conflicts in {', '.join(paths[:5])}; resolve them "
            "(git add the fixed files) and commit, then run `harness run` again."
        )
    return None


def _unmerged(root: Path, checks: ConfigChecks | None) -> bytes:
    """``git ls-files --unmerged -z``: the index's conflicted entries. It reads the index
    alone, so ``checks`` (a run's) keeps the answer under the digest of the index's bytes
    (:func:`artifacts.git_stamp.index_digest`): asked again whenever a byte differs, as
    after any ``git add``, merge or reset, whoever ran it. A failed ``ls-files`` is read
    as it always was (what it printed), and never kept: the next call asks again."""

    def ask() -> bytes:
        done = run_git(root, "ls-files", "--unmerged", "-z", check=False, checks=checks)
        if done.returncode != 0:
            raise _NotKept(done.stdout)
        return done.stdout

    try:
        if checks is None:
            return ask()
        check_config(root, checks)  # a refusal first, as every git command of harness
        where = str(Path(root).absolute())
        return checks.by_bytes(f"unmerged {where}", lambda: index_digest(root), ask)
    except _NotKept as failed:
        return failed.stdout


class _NotKept(Exception):
    """An answer of a failed git command: given to the caller, never kept."""

    def __init__(self, stdout: bytes) -> None:
        super().__init__("git failed")
        self.stdout = stdout


def preflight(root: Path, *, wait_s: float = 10.0, checks: ConfigChecks | None = None) -> list[str]:
    """Refuse a repository harness must not work in; clear stale locks. Returns notes.

    Nothing happens where there is no ``.git`` (the writeback says so when it needs one).
    ``checks``: the caller's verdicts of the config check (:class:`ConfigChecks`).
    """

    if not (root / ".git").is_dir():
        return []
    if checks is None:  # one config read for both checks below (each git call read it)
        checks = ConfigChecks()
    check_config(root, checks)
    why = repository_state(root, checks)
    if why is not None:
        raise GitRefused(why)
    return clear_stale_locks(root, wait_s=wait_s)


def init_sh_trusted(
    root: Path, script: str = "init.sh", checks: ConfigChecks | None = None
) -> bool:
    """Whether ``script`` is as the initializer or a person committed it: unchanged since
    HEAD, and its last commit is not a session's (``Harness-Session`` trailer). An
    agent-edited init.sh runs at wake with the agent's own network, not the setup one.
    ``checks``: the session's (its config verdict and its sweep of the tree)."""

    if not (root / ".git").is_dir():
        return True  # no history to tell by (a project before `harness init`)
    literal = {"GIT_LITERAL_PATHSPECS": "1"}
    dirty = run_git(
        root, "status", "--porcelain", "--", script, check=False, env=literal, checks=checks
    )
    if dirty.returncode != 0 or dirty.stdout.strip():
        return False
    last = run_git(
        root,
        "log",
        "-1",
        "--format=%(trailers:key=Harness-Session,valueonly)",
        "--",
        script,
        check=False,
        env=literal,
        checks=checks,
    )
    return last.returncode == 0 and not last.stdout.strip()


def trusted_commit(
    root: Path, *, depth: int = 10_000, checks: ConfigChecks | None = None
) -> str | None:
    """The newest commit of HEAD's history that no session made (no ``Harness-Session``
    trailer): the initializer's first commit, or yours. Its tree is what the setup phase
    may run with the network (a clean checkout of it). None without such a commit."""

    done = run_git(
        root,
        "log",
        "-z",
        f"--max-count={depth}",
        "--format=%H%x00%(trailers:key=Harness-Session,valueonly)",
        "HEAD",
        check=False,
        checks=checks,
    )
    if done.returncode != 0:
        return None
    fields = done.stdout.decode("utf-8", "replace").split("\0")
    for index in range(0, len(fields) - 1, 2):
        sha, trailer = fields[index].strip(), fields[index + 1]
        if sha and not trailer.strip():
            return sha
    return None
