"""The first commit of `harness init` and `harness adopt`, under the writeback's rules.

The candidates are every file git would see (a folder that was not a repository: the
whole project) or only the protocol files (an existing repository: the user's own work
stays theirs to commit), never a ``[verify] hidden`` path (kept out of git and listed in
``.git/info/exclude``: the agent's sandbox shows `.git`);
:func:`session.committable.select_committable` leaves out what holds a secret or is too
large, as for every harness commit. What is left out is neither staged nor changed:
:func:`artifacts.git_commit.commit_exact` builds the commit in a private index from the
chosen paths only. Each left-out file is said (``say``: init's run events, adopt's
stderr) with its reason and what to do. A protocol file harness needs (the feature list,
progress.md) that would be left out (a secret, a size limit) refuses the commit
(GitRefused, exit 2): nothing is committed, and the command, run again once the file is
fixed, makes it. The planned files are checked again when the commit is made: a resumed
init commits them as they are then.

Each git step checks the world it leaves, so a kill anywhere ends as no kill: the plan
makes a repository git can use (:func:`artifacts.git_init.ensure_repository`: a ``.git``
half made by a killed ``git init`` is made again), the commit clears the locks a kill
inside ``update-ref`` left and tries again, and :func:`sync_first_commit` (for init
outside the journaled commit step, so it runs again on every resume, the recovered commit
included) brings the user's index in line with the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_commit import commit_retrying, sync_to_commit
from artifacts.git_init import ensure_repository as ensure
from harness.errors import GitRefused
from session.committable import Excluded, Selection, changed_paths, select_committable
from session.verify.hidden import exclude_locally

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from artifacts.git_safety import ConfigChecks
    from harness.redact import Redactor

REQUIRED = ("feature_list.json", "progress.md")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


Say = Callable[[str], None]


def ensure_repository(root: Path, say: Say) -> None:
    """A repository git can use at ``root`` (created, branch main, when there is none; a
    ``.git`` half made by a killed ``git init`` made again), said."""

    for note in ensure(root):
        say(note)


def plan_first_commit(
    root: Path,
    config: HarnessConfig,
    only: tuple[str, ...] | None,
    *,
    again: str,
    say: Say,
    secrets: Redactor | None = None,
    checks: ConfigChecks | None = None,
) -> Selection:
    """Create the repository if there is none; choose what the first commit takes.

    Args:
        only: the files or folders to commit (None: every file git would see).
        again: the command that makes the commit once a refused file is fixed.
        say: where what it did is said (init: the run's events).
        secrets: the run's secrets, kept out of the commit (default: those of
            ``os.environ`` and ``config``).
        checks: the caller's git config verdicts (its git calls then check an unchanged
            config once, not at each call).
    """

    ensure_repository(root, say)
    # Hidden paths ([verify] hidden) never go into git: the agent's sandbox shows `.git`.
    hidden = tuple(config.verify.hidden)
    exclude_locally(root, list(hidden))
    paths = [p for p in changed_paths(root, checks) if not _under(p, (".harness", *hidden))]
    if only is not None:
        paths = [p for p in paths if _under(p, only) and (root / p).exists()]
    return _select(root, paths, config, again, secrets)


def _select(
    root: Path, paths: list[str], config: HarnessConfig, again: str, secrets: Redactor | None
) -> Selection:

    # The protocol files first, so no count limit leaves them out.
    paths = sorted(paths, key=lambda path: path not in REQUIRED)
    chosen = select_committable(root, paths, config, secrets)
    refused = [e for e in chosen.excluded if e.path in REQUIRED]
    if refused:
        first = refused[0]
        raise GitRefused(
            f"{root / first.path}: {first.reason}; harness commits its protocol files only "
            "without secrets and within the size limits, so nothing was committed. Edit the "
            f"file, then run `{again}` again: it makes the commit."
        )
    return chosen


def make_first_commit(
    root: Path,
    config: HarnessConfig,
    message: str,
    paths: list[str],
    *,
    say: Say,
    again: str,
    secrets: Redactor | None = None,
    blobs: dict[str, bytes] | None = None,
    sync: bool = True,
    checks: ConfigChecks | None = None,
) -> str | None:
    """Commit exactly the planned ``paths`` that still pass (a resumed command commits
    files that may have changed since the plan) and ``blobs`` (these bytes for these
    paths, whatever is on disk); nothing else is staged, and the user's index takes the
    commit's files (``sync``; init does it after its journaled step: see
    :func:`sync_first_commit`). A lock a killed git left is cleared and the commit tried
    again. None if that changes nothing."""

    chosen = _select(root, paths, config, again, secrets)
    report_left_out(say, chosen.excluded)
    if not chosen.paths and not blobs:
        return None
    sha = commit_retrying(
        root,
        message,
        paths=chosen.paths,
        blobs=blobs or {},
        protected=[],
        kept=f"the files are kept, and `{again}` makes the commit",
        say=say,
        checks=checks,
    )
    if sync:
        sync_first_commit(root, sha, say=say, checks=checks)
    return sha


def sync_first_commit(
    root: Path, sha: str | None, *, say: Say, checks: ConfigChecks | None = None
) -> list[str]:
    """The user's index takes the first commit's files (they would show as staged
    deletions otherwise, and the user's next `git commit` would delete them); run after
    the commit, live, also when the commit was recovered or replayed. Returns the paths
    the commit holds (none without one)."""

    if sha is None:
        return []
    return sync_to_commit(root, sha, say=say, checks=checks)


def report_left_out(say: Say, excluded: list[Excluded]) -> None:
    """Say which files the commit left out, why, and what to do."""
    for item in excluded:
        say(f"{item.note()} (left on disk as it is)")
