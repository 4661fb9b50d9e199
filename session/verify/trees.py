"""The trees a check proves a feature on: what the session would commit, and where it began.

:func:`plan_paths` is the writeback's own choice of what a session commits (the files it
changed, minus the user's, harness's state and temp files (a killed write's leftover is
no work: ``harness.leftovers``), protected and hidden paths, and what
:func:`session.committable.select_committable` leaves out): the writeback commits exactly
these paths, and :func:`session_tree` builds the tree they make on HEAD, so a clean
checkout of it holds exactly the bytes the commit would. :func:`before_tree` is the tree
the session started from with the session's changes to test files laid over it: a check
that passes there does not tell done from not done.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from artifacts.config import protected_paths
from artifacts.git_safety import run_git
from artifacts.git_tree import build_tree, head_sha
from harness.leftovers import is_temp
from session.committable import Excluded, changed_paths, select_committable

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from artifacts.git_safety import ConfigChecks
    from harness.redact import Redactor

FEATURE_LIST = "feature_list.json"
PROGRESS = "progress.md"
HARNESS_FILES = (FEATURE_LIST, PROGRESS)


class Planned(BaseModel):
    """The paths a session's commit takes, those it leaves out (and why), and the protected
    paths the session changed (restored from HEAD at writeback, never committed)."""

    paths: list[str] = Field(default_factory=list)
    excluded: list[Excluded] = Field(default_factory=list)
    protected: list[str] = Field(default_factory=list)


def under(path: str, prefixes: list[str]) -> bool:
    """``path`` is one of ``prefixes`` or inside one of them."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _harness_state(path: str) -> bool:
    return path == ".harness" or path.startswith(".harness/")


def plan_paths(
    root: Path,
    config: HarnessConfig,
    user_files: list[str],
    *,
    checks: ConfigChecks | None = None,
    secrets: Redactor | None = None,
) -> Planned:
    """What the session's commit would take now (nothing on disk changes); ``checks`` and
    ``secrets`` are the run's (its config checks, the secrets its commits leave out)."""

    protected = [p for p in protected_paths(config) if p not in (".git", ".harness")]
    hidden = config.verify.hidden
    user = set(user_files)
    planned = Planned()
    candidates = []
    for path in changed_paths(root, checks):
        if path in user or _harness_state(path) or path in HARNESS_FILES or is_temp(path):
            continue
        if under(path, hidden):
            continue  # never committed: the agent's `.git` would show it
        if under(path, protected):
            planned.protected.append(path)
            continue
        candidates.append(path)
    chosen = select_committable(root, candidates, config, secrets)
    planned.paths, planned.excluded = chosen.paths, chosen.excluded
    return planned


def session_tree(root: Path, planned: Planned, checks: ConfigChecks | None = None) -> str:
    """The tree HEAD becomes with the planned paths as on disk."""

    head = head_sha(root, checks)
    tree, _ = build_tree(root, head, paths=planned.paths, blobs={}, checks=checks)
    return tree


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: ``**/`` any folders (none too), ``**`` anything, ``*`` and
    ``?`` within one name."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def is_test_path(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` matches one of the ``[verify] test_paths`` globs."""
    return any(_glob(pattern).fullmatch(path) for pattern in patterns)


def changed_tests(planned: Planned, patterns: list[str]) -> list[str]:
    """The session's changes to test files, among what its commit would take (compiled
    caches such as ``__pycache__/*.pyc`` are no test anyone wrote)."""
    return [
        path
        for path in planned.paths
        if is_test_path(path, patterns) and "__pycache__" not in path.split("/")
    ]


def before_tree(
    root: Path, start: str | None, tests: list[str], checks: ConfigChecks | None = None
) -> str:
    """The tree of commit ``start`` with ``tests`` (paths as on disk now) laid over it."""

    tree, _ = build_tree(root, start, paths=tests, blobs={}, checks=checks)
    return tree


def diff_text(
    root: Path, old: str, new: str, limit: int, checks: ConfigChecks | None = None
) -> str:
    """``git diff`` between two trees as text, cut at ``limit`` characters (said)."""

    args = ("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--stat", "--patch", old, new)
    out = run_git(root, *args, checks=checks).stdout.decode("utf-8", "replace")
    if len(out) <= limit:
        return out
    return out[:limit] + f"\n[... the diff is cut here: {len(out) - limit:,} more characters]"
