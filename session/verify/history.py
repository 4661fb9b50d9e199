"""Where a feature was done before: the "before" tree of a feature proven once already.

A feature can be failing at the start of a session while its work is already committed: its
evidence was lost with the journal (a deleted `.harness/`), so it turned failing to be
verified again. Its check then passes on the tree the session started from, and that tells
nothing. The tree that tells is the one before the work: the parent of the newest harness
commit that turned the feature passing (its committed feature list says passing there and
failing in the parent). Only harness commits turn a feature passing in git (the sandbox
cannot write `.git`), so the history says where that session began.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.feature_list import parse_feature_list
from artifacts.git_commit import committed_blob
from artifacts.git_safety import run_git
from harness.errors import ArtifactError

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks

FEATURE_LIST = "feature_list.json"
LIMIT = 500


def done_from(
    root: Path, feature: str, checks: ConfigChecks | None = None, limit: int = LIMIT
) -> str | None:
    """The parent commit of the newest commit that turned ``feature`` passing (None when
    no commit of HEAD's last ``limit`` that changed the feature list did)."""

    log = ("log", f"-{limit}", "--format=%H %P", "--", FEATURE_LIST)
    out = run_git(root, *log, check=False, checks=checks).stdout.decode()
    known: dict[str, bool] = {}
    for line in out.splitlines():
        shas = line.split()
        if len(shas) < 2:
            continue
        commit, parent = shas[0], shas[1]
        done = _passes(root, commit, feature, known, checks)
        if done and not _passes(root, parent, feature, known, checks):
            return parent
    return None


def _passes(
    root: Path, rev: str, feature: str, known: dict[str, bool], checks: ConfigChecks | None
) -> bool:

    if rev not in known:
        data = committed_blob(root, rev, FEATURE_LIST, checks)
        try:
            listed = parse_feature_list(data.decode("utf-8")).get(feature) if data else None
        except (ArtifactError, UnicodeDecodeError):
            listed = None
        known[rev] = bool(listed and listed.passes)
    return known[rev]
