"""The fleet's own git (clone, fetch, push, bundles): the absolute ``git`` of a trusted
PATH, with no hook, never from the run's clone (which the agent writes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.errors import GitError
from harness.hostpath import program, trusted_path

GIT_TIMEOUT_S = 300


def git(root: Path | None, *args: str, check: bool = True) -> str:
    """``git`` with no hook (the fleet's own clone, fetch and push); GitError on failure.
    The absolute ``git`` of a PATH without relative entries: the working folder is the
    run's clone, which the agent writes (harness.hostpath)."""
    found = program("git", outside=root)
    if found is None:
        raise GitError("git is not installed (no `git` on PATH outside the project)")
    command = [found, "-c", "core.hooksPath=/dev/null", *args]
    done = subprocess.run(
        command,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        env={**os.environ, "PATH": trusted_path(outside=root), "GIT_TERMINAL_PROMPT": "0"},
    )
    if check and done.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()[-400:]}")
    return done.stdout.strip()
