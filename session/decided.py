"""The feature list harness decided, and the one a run's completion is read from.

:func:`decided_feature_list` gives the bytes the writeback commits: what the guarded tools
wrote when every change from HEAD is a mark of this session with this session's evidence
or a feature a person added at the end (failing, kept at wake), else HEAD's list with
the session's marks applied again from its journaled verifications (a background writer
raced a guarded write). :func:`passing_count` and
:func:`committed_features` let a run count a feature as passing only when HEAD agrees.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.feature_list import (
    FEATURE_LIST,
    dump_feature_list,
    load_feature_list,
    parse_feature_list,
)
from artifacts.git_commit import committed_blob
from artifacts.guards import check_transition
from harness.errors import ArtifactError, GitError

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks
    from artifacts.models import FeatureList
    from session.context import WorkContext
    from session.env import SessionEnv


def decided_feature_list(env: SessionEnv, known: bytes | None, ctx: WorkContext) -> bytes | None:
    """The feature-list bytes harness commits: what its guarded tools wrote (``known``)
    when every change from HEAD is a mark of this session with this session's evidence,
    or a feature added at the end, failing (a person's, kept at wake); otherwise HEAD's
    list with this session's marks applied again from the journal's verifications (a
    background writer raced a guarded write)."""

    committed = committed_blob(env.root, "HEAD", FEATURE_LIST, env.git_checks)
    if committed is None:
        return known
    try:
        old = parse_feature_list(committed.decode("utf-8"))
    except (ArtifactError, UnicodeDecodeError):
        return known  # e.g. a quickstart list adopted since: HEAD's is no reference
    if known is not None and _legitimate(old, known, ctx):
        return known
    rebuilt = _rebuild(old, ctx)
    if known is not None:
        ctx.notes.append(
            "feature_list.json on disk was not the one the harness wrote (changed outside "
            "the guarded tools); the harness committed its own"
        )
    return rebuilt


def _legitimate(old: FeatureList, known: bytes, ctx: WorkContext) -> bool:

    try:
        new = parse_feature_list(known.decode("utf-8"))
        check_transition(old, new)
    except (ArtifactError, UnicodeDecodeError):
        return False
    before = {f.id: f for f in old.features}
    for feature in new.features:
        was = before.get(feature.id)
        if was is None and not feature.passes:
            # Added at the end, failing (check_transition lets nothing else through): a
            # person's edit the wake kept, in the list the session started from.
            continue
        if was is not None and (was.passes, was.evidence) == (feature.passes, feature.evidence):
            continue
        if feature.id not in ctx.marked or not feature.passes:
            return False
        verification = ctx.verifications.get(feature.id)
        evidence = feature.evidence
        if evidence is None:
            return False
        recorded = ctx.evidence.get(feature.id)
        if recorded is not None:  # the evidence mark_passing wrote, proofs and all
            if evidence != recorded:
                return False
            continue
        from_check = verification is not None and evidence.verification == verification.ref
        if not from_check and not evidence.verification.startswith("human:"):
            return False
    return True


def _rebuild(old: FeatureList, ctx: WorkContext) -> bytes:
    """HEAD's list with each feature marked in this session set passing on the evidence
    its mark recorded (or, in older records, its recorded passing verification; features
    without a check keep HEAD's state)."""

    updated = old.model_copy(deep=True)
    for feature in updated.features:
        recorded = ctx.evidence.get(feature.id)
        if feature.id in ctx.marked and recorded is not None:
            feature.passes, feature.evidence = True, recorded
            continue
        verification = ctx.verifications.get(feature.id)
        if feature.id not in ctx.marked or verification is None or verification.exit_code != 0:
            continue
        feature.passes = True
        feature.evidence = verification.evidence(ctx.session)
    return dump_feature_list(updated).encode("utf-8")


def passing_count(root: Path, committed: FeatureList | None) -> tuple[int, int]:
    """(passing, total) of the feature list, a feature counting as passing only when HEAD
    (``committed``: :func:`committed_features`) says so too: a file rewritten on disk after
    the last commit does not finish a run."""

    features = load_feature_list(root)
    if committed is None:
        return features.passing, len(features.features)
    at_head = {f.id for f in committed.features if f.passes}
    return sum(1 for f in features.features if f.passes and f.id in at_head), len(features.features)


def committed_features(root: Path, checks: ConfigChecks | None = None) -> FeatureList | None:
    """The feature list at HEAD, or None (no repository, no commit, not parseable).
    ``checks``: the run's git config verdicts."""

    try:
        has_git = (root / ".git").is_dir()
        data = committed_blob(root, "HEAD", FEATURE_LIST, checks) if has_git else None
        return None if data is None else parse_feature_list(data.decode("utf-8"))
    except (ArtifactError, GitError, UnicodeDecodeError):
        return None


def complete_detail(features: FeatureList) -> str:
    """What a complete run says: every feature passes, and which of them pass on a human's
    approval alone (no check: nothing harness could run on the final commit)."""
    unchecked = [f.id for f in features.features if not f.check]
    text = f"all {len(features.features)} features pass"
    if not unchecked:
        return text
    named = (
        ", ".join(unchecked)
        if len(unchecked) <= 5
        else (f"{len(unchecked)} features ({unchecked[0]}..{unchecked[-1]})")
    )
    verb = "passes" if len(unchecked) == 1 else "pass"
    return f"{text}; {named} {verb} on a human's approval alone (no check to run)"
