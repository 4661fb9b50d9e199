"""The writeback: commit only what harness decided, as one recoverable unit.

At wake (:func:`wake_snapshot`, a journaled step so a resumed session sees the same list)
the files already dirty or untracked are the user's: they stay out of harness's commits
and are left alone on disk. At writeback (:func:`commit_session`), journaled steps:

1. **plan**: the files the session changed, minus the user's, ``.harness/``, the
   feature list and progress.md (committed from harness's own bytes), protected paths
   (restored from HEAD, never committed), files over ``[git] max_file_mb`` or beyond
   ``max_commit_mb`` (sizes from ``lstat``, nothing read) or ``max_commit_files``, and
   files holding a secret (:mod:`session.secrets`), as
   :func:`session.committable.select_committable` decides for every harness commit; every
   exclusion becomes a note of the progress entry, so the next session's brief tells the
   agent;
2. **recheck** (:mod:`session.verify.recheck`): the checks of the passing features run
   again on a clean checkout of the tree the commit will hold; one that fails there turns
   its feature failing in the commit, with the reason in the progress entry;
3. **progress.append** (:func:`session.progress.record_progress`), after the setuid and
   setgid bits a command left are cleared (:mod:`session.setid`, live, said in the entry);
4. **commit**: :func:`artifacts.git_commit.commit_exact` with the planned paths, the
   feature-list bytes harness decided and the progress.md it wrote; a lock left by a dead
   git is cleared and the commit retried; if it still cannot be made the step stays in
   flight (:class:`~harness.errors.CommitPending`), the session stays open, and the next
   `harness run` makes it: the progress entry never stands without its commit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from artifacts.config import protected_paths
from artifacts.feature_list import FEATURE_LIST
from artifacts.git import GitRepo
from artifacts.git_commit import commit_retrying, sync_index
from artifacts.git_safety import check_config
from artifacts.git_state import preflight
from artifacts.git_tree import head_sha
from artifacts.io import atomic_write
from harness.errors import GitError
from harness.events import Events
from harness.leftovers import is_temp
from session.committable import Excluded, changed_paths
from session.decided import decided_feature_list
from session.progress import OUTCOME_WORDS, progress_entry, record_progress
from session.protected import guarded, restore_path
from session.protected_tree import extras, remove_new
from session.setid import setid_notes
from session.verify.recheck import recheck
from session.verify.trees import plan_paths

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks
    from harness.journal.protocol import StepJournal
    from session.context import WorkContext
    from session.env import SessionEnv
    from session.loop import LoopOutcome, SessionEnding

PROGRESS = "progress.md"


class WakeSnapshot(BaseModel):
    """Paths dirty or untracked when the session woke: the user's, never committed."""

    paths: list[str] = Field(default_factory=list)
    head: str | None = None
    """The commit the session started from (a check's "before" tree is made from it)."""
    protected_extras: dict[str, list[int]] = Field(default_factory=dict)
    """Entries in the protected paths that HEAD does not hold, ignored ones included, with
    their identity (``session.protected_tree``): the user's, kept while unchanged."""
    notes: list[str] = Field(default_factory=list)
    """What the wake's checks did (a stale lock cleared); not journaled with the paths."""


class WritebackPlan(BaseModel):
    """What the commit takes, and what it leaves out and why."""

    paths: list[str] = Field(default_factory=list)
    excluded: list[Excluded] = Field(default_factory=list)
    restored: list[str] = Field(default_factory=list)

    def notes(self) -> list[str]:
        found = [e.note() for e in self.excluded]
        found += [
            f"{path} is protected; the agent's change to it was undone (restored from HEAD)"
            for path in self.restored
        ]
        return found


def _harness_state(path: str) -> bool:
    return path == ".harness" or path.startswith(".harness/")


def wake_repository(env: SessionEnv, journal: StepJournal) -> WakeSnapshot:
    """The wake's repository checks, live on every (re)start: refuse a repository harness
    must not commit into (GitRefused, exit 2) and clear stale locks; then the snapshot."""

    notes = preflight(env.root, checks=env.git_checks)
    for note in notes:
        env.scope.events.notice(note)
    protected = guarded(protected_paths(env.config))
    snapshot = wake_snapshot(journal, env.root, env.git_checks, protected, events=env.scope.events)
    snapshot.notes = notes
    return snapshot


def wake_snapshot(
    journal: StepJournal,
    root: Path,
    checks: ConfigChecks | None = None,
    protected: list[str] | None = None,
    *,
    events: Events,
) -> WakeSnapshot:
    """Record (or replay) the user's uncommitted files, and what the protected paths hold
    beyond HEAD; say so to the run's observers."""

    def take() -> WakeSnapshot:
        if not (root / ".git").is_dir():
            return WakeSnapshot()

        paths = [
            p for p in changed_paths(root, checks) if not (_harness_state(p) or is_temp(p))
        ]  # a killed write's temp file is harness's leftover, not the user's
        kept = extras(root, protected, checks) if protected else {}
        # notes stay out of the journal's record
        return WakeSnapshot(paths=paths, head=head_sha(root, checks), protected_extras=kept)

    snapshot: WakeSnapshot = journal.step("git", "snapshot", {}, take, output=WakeSnapshot)
    if snapshot.paths:
        shown = ", ".join(snapshot.paths[:5]) + (" ..." if len(snapshot.paths) > 5 else "")
        events.notice(
            f"{len(snapshot.paths)} uncommitted file(s) at the start of this session "
            "(yours, or left out of an earlier harness commit) stay out of harness's commits "
            f"and are left as they are: {shown}"
        )
    return snapshot


def plan_commit(env: SessionEnv, snapshot: WakeSnapshot) -> WritebackPlan:
    """Decide what the session's commit takes (restoring protected paths on the way)."""

    planned = plan_paths(
        env.root,
        env.config,
        snapshot.paths,
        checks=env.git_checks,
        secrets=env.scope.secrets,
    )
    for path in planned.protected:
        restore_path(env.root, path)
    # What HEAD does not hold in the protected paths (ignored files too) is not left for
    # the next session's wake to take for the user's.
    protected = guarded(protected_paths(env.config))
    removed = remove_new(env.root, protected, snapshot.protected_extras, env.git_checks)
    restored = [*planned.protected, *(p for p in removed if p not in planned.protected)]
    return WritebackPlan(paths=planned.paths, excluded=planned.excluded, restored=restored)


def _unlink_progress(root: Path) -> str | None:
    """progress.md is harness's file: a symlink (planted during the session, maybe into
    .git/config), a FIFO or a socket there is replaced by HEAD's progress.md before the
    entry is appended, so nothing is read or written through it and no link is committed.
    Replaced, not refused: a refusal would let any planted link stop every run; the
    committed file is the authoritative content (harness wrote each of its entries)."""
    path = root / PROGRESS
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if not stat.S_ISLNK(mode):  # a FIFO would block the append forever; a socket fails it
        path.unlink()
        restore_path(root, PROGRESS)
        return "progress.md was not a file (a FIFO or socket); replaced by the committed one"
    where = os.readlink(path)
    restore_path(root, PROGRESS)
    return f"progress.md was a symlink (to {where}); replaced by the committed progress.md"


def commit_session(
    env: SessionEnv,
    journal: StepJournal,
    number: int,
    feature: str,
    ending: SessionEnding,
    outcome: LoopOutcome,
    ctx: WorkContext,
    snapshot: WakeSnapshot,
    known: bytes | None,
) -> tuple[str | None, SessionEnding]:
    """Plan, recheck, append the progress entry, commit; each step checks the world on
    resume. Returns the commit and the session's ending (no longer "passing" when the
    recheck found the session's own feature failing on what it commits)."""

    # Live, outside the steps: a config changed during the session (the local runner lets
    # the agent write .git/config) stops the run with the session open; once it is fixed,
    # `harness run` resumes here and commits.
    check_config(env.root, env.git_checks)
    plan: WritebackPlan = journal.step(
        "git", "plan", {"session": number}, lambda: plan_commit(env, snapshot), output=WritebackPlan
    )

    decided = decided_feature_list(env, known, ctx)
    if decided is not None and ctx.verifier is not None:
        decided, regressed = recheck(
            ctx.verifier, journal, plan.paths, decided, ctx.resources, session=number
        )
        for why in regressed.values():
            ctx.notes.append(why)
            env.scope.events.notice(why, session=number)
        if feature in regressed and ending == "passing":
            ending = "done"  # its own feature: the commit does not hold a passing one
    for note in [*snapshot.notes, *plan.notes()]:
        if note not in ctx.notes:
            ctx.notes.append(note)
    if plan.excluded or plan.restored:
        env.scope.events.notice("; ".join(plan.notes()), session=number)

    for note in setid_notes(env.root):  # live: no command runs any more this session
        ctx.notes.append(note)
        env.scope.events.notice(note, session=number)
    unlinked = _unlink_progress(env.root)
    if unlinked:
        ctx.notes.append(unlinked)
        env.scope.events.notice(unlinked, session=number)
    entry = progress_entry(number, feature, ending, outcome, ctx, env.scope.secrets)
    record_progress(journal, env.root, entry)
    if decided is not None and (env.root / FEATURE_LIST).read_bytes() != decided:
        atomic_write(env.root / FEATURE_LIST, decided, root=env.root)
    trailer = f"{env.run.id}/{number}"
    message = (
        f"session {number}: {feature} {OUTCOME_WORDS.get(ending, ending)}\n\n"
        f"Harness-Session: {trailer}\nHarness-Feature: {feature}"
    )
    committed = [*plan.paths, PROGRESS, *([FEATURE_LIST] if decided is not None else [])]

    def existing_commit() -> str | None:
        return _find_commit(env.root, trailer, env.git_checks)

    def commit() -> str | None:
        blobs = {PROGRESS: (env.root / PROGRESS).read_bytes()}
        if decided is not None:
            blobs[FEATURE_LIST] = decided
        return _commit_with_retries(env, message, plan.paths, blobs)

    check_config(env.root, env.git_checks)
    sha: str | None = journal.step(
        "git",
        "commit",
        {"session": number, "feature": feature},
        commit,  # type: ignore[arg-type]
        idempotent=False,
        recover=existing_commit,
        output=str | None,  # type: ignore[arg-type]
    )
    _sync_index(env, committed)
    return sha, ending


def _find_commit(root: Path, trailer: str, checks: ConfigChecks) -> str | None:

    with GitRepo.open(root, checks) as repo:
        return repo.find_commit_with_trailer("Harness-Session", trailer)


def _commit_with_retries(
    env: SessionEnv, message: str, paths: list[str], blobs: dict[str, bytes]
) -> str | None:
    """commit_exact, clearing stale locks and retrying; CommitPending if it cannot be made."""

    return commit_retrying(
        env.root,
        message,
        paths=paths,
        blobs=blobs,
        protected=[p for p in protected_paths(env.config) if p != ".harness"],
        kept="the session's work and progress entry are kept, and the next `harness run` "
        "makes the commit",
        say=env.scope.events.notice,
        checks=env.git_checks,
    )


def _sync_index(env: SessionEnv, paths: list[str]) -> None:
    """Bring the user's index up to date for the committed paths (best effort: a stale
    index entry only shows as a change in `git status`, it loses nothing)."""

    try:
        sync_index(env.root, paths, env.git_checks)
    except GitError as error:
        env.scope.events.notice(f"could not update git's index after the commit: {error}")
