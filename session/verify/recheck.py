"""At writeback: the checks of passing features run again on what the session commits.

A session may break a feature an earlier session finished. Before the commit, the check of
every passing feature (``[verify] recheck``) runs on a clean checkout of exactly the tree
the commit will hold, unless its evidence was proven on that very tree; they share one
checkout (set up once), each in a fresh sandbox. (One check's run could leave files there
for the next: the code they run is the agent's either way, and it could as well special-case
the next check itself; the rechecks catch regressions, the before-run and the evaluator
catch checks built to be passed.) A
feature whose check fails there turns failing in the commit, with the reason in the
progress entry (so the next session's brief says it). Each run is a journaled step
(``runner/recheck:<id>``), after a step that records which run on which tree
(``git/recheck``), so a resumed writeback replays exactly those. A session that changes no
file of the project (its commit holds only the progress entry and the feature list)
rechecks only the features it proved itself on another tree: a feature's code the agent
kept out of the commit after its proof (git-ignored, say) fails its check there, so no
commit says a feature passes whose code it does not hold (issue 23). ``[verify] recheck =
false`` drops the regression rechecks of the commits that leave a feature failing, never
those of the commit that makes every feature pass: a run is complete only on a commit
whose every checked feature passed its check on that commit's tree.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING

from pydantic import BaseModel

from artifacts.feature_list import dump_feature_list, parse_feature_list
from artifacts.git_tree import build_tree, head_sha
from session.verify.clean import Checkout, CleanRun

if TYPE_CHECKING:
    from artifacts.models import FeatureList
    from harness.journal.protocol import StepJournal
    from runners import Resources
    from session.verify.verifier import Verifier

TAIL = 300


class Rechecks(BaseModel):
    """The tree the commit will hold (the feature list as HEAD has it, as in the tree
    mark_passing proved a feature on) and the features whose checks run on it."""

    tree: str
    due: list[str]


def recheck(
    verifier: Verifier,
    journal: StepJournal,
    paths: list[str],
    decided: bytes,
    resources: Resources | None,
    *,
    session: int,
) -> tuple[bytes, dict[str, str]]:
    """``decided`` (the feature list session ``session`` commits) with every passing feature
    whose check fails on the commit's tree turned failing; and feature id -> why, for those."""

    features = parse_feature_list(decided.decode("utf-8"))
    proven_now = {
        f.id for f in features.features if f.passes and f.evidence and f.evidence.session == session
    }
    # `[verify] recheck = false` skips the regression rechecks of intermediate commits
    # only: the commit that makes every feature pass (the one a run calls complete) and
    # the features proven in this session are checked on what it holds whatever the setting.
    every = verifier.config.verify.recheck or all(f.passes for f in features.features)
    if not proven_now and not (paths and every):
        return decided, {}  # HEAD's tree, on which the passing features were rechecked
    # Which checks run, on which tree: a step, so a resumed writeback runs the same ones
    # (HEAD may have moved meanwhile: the commit can land before a crash).
    plan: Rechecks = journal.step(
        "git",
        "recheck",
        {"paths": len(paths)},
        lambda: _plan(verifier, paths, features, proven_now, every=every),
        output=Rechecks,
    )
    tree = plan.tree
    due = [f for f in (features.get(i) for i in plan.due) if f is not None]
    regressed: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        opened: list[Checkout] = []

        def run(command: str) -> CleanRun:
            if not opened:  # made at the first live check (a replay needs none)
                opened.append(stack.enter_context(verifier.checkout(tree, resources)))
            return opened[0].run(command)

        for feature in due:
            command = str(feature.check)
            ran: CleanRun = journal.step(
                "runner",
                f"recheck:{feature.id}",
                {"feature": feature.id, "command": command, "tree": tree},
                functools.partial(run, command),
                output=CleanRun,
            )
            _judge(feature.id, ran, regressed)
    if not regressed:
        return decided, {}
    updated = features.model_copy(deep=True)
    for feature in updated.features:
        if feature.id in regressed:
            feature.passes, feature.evidence = False, None
    return dump_feature_list(updated).encode("utf-8"), regressed


def _plan(
    verifier: Verifier,
    paths: list[str],
    features: FeatureList,
    proven_now: set[str],
    *,
    every: bool,
) -> Rechecks:
    """With no path changed (or ``every`` False: rechecks off and the commit does not
    finish the project), only the features proven in this session (maybe on a tree holding
    files the commit leaves out) are checked on the commit's tree."""

    root, checks = verifier.root, verifier.checks
    tree, _ = build_tree(root, head_sha(root, checks), paths=paths, blobs={}, checks=checks)
    due = [
        f.id
        for f in sorted(features.features, key=lambda f: f.priority)
        if f.passes
        and f.check
        and not (f.evidence and f.evidence.tree == tree)
        and ((paths and every) or f.id in proven_now)
    ]
    return Rechecks(tree=tree, due=due)


def _judge(feature: str, ran: CleanRun, regressed: dict[str, str]) -> None:
    if ran.passed:
        return
    tail = " ".join((ran.stdout + ran.stderr).strip()[-TAIL:].split())
    regressed[feature] = (
        f"{feature} regressed: its check fails on a clean checkout of the tree this session "
        f"commits ({ran.why()})" + (f": {tail}" if tail else "")
    )
