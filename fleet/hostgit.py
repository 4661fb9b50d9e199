"""The fleet's own git (clone, fetch, push, bundles): the absolute ``git`` of a trusted
PATH, with no hook, never from the run's clone (which the agent writes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_blockers import WORK_TREE_READERS, clear_blockers
from artifacts.git_safety import OVERRIDES, ConfigChecks, check_config
from harness.errors import GitError
from harness.hostpath import program, trusted_path

if TYPE_CHECKING:
    from artifacts.git_sweep import Sweep

GIT_TIMEOUT_S = 300
_REMOTE = {"protocol.allow", "core.sshCommand", "core.askPass", "credential.helper"}
# The harness's overrides for what git reads of a work tree (the run's clone is the
# agent's): an embedded repository's own config (a gitlink) is never looked inside, so its
# filters never run here; no fsmonitor, untracked cache, mailmap, hook or gc. Not those for
# remotes: the fleet clones, fetches and pushes with your protocols and credentials.
OPTIONS = [
    part for key, value in OVERRIDES if key not in _REMOTE for part in ("-c", f"{key}={value}")
]


# Subcommands that run no program a repository's config names (no filter, driver, textconv,
# remote or hook program): no config check before them.
_RUN_NOTHING = frozenset({"rev-parse", "rev-list", "config", "ls-remote", "bundle"})


def git(
    root: Path | None, *args: str, check: bool = True, sweep: Sweep | None = None,
    clear: bool = True, checks: ConfigChecks | None = None,
) -> str:  # fmt: skip
    """``git`` with no hook (the fleet's own clone, fetch and push); GitError on failure.
    The absolute ``git`` of a PATH without relative entries: the working folder is the
    run's clone, which the agent writes (harness.hostpath). Before a command that reads
    the work tree, the files git would block on there (a FIFO named ``.gitignore``...)
    are removed and named on stderr, as harness's own git does: by the clone's ``sweep``
    (``artifacts.git_sweep``: not in the folders git leaves alone) when given, else the whole
    tree; ``clear=False`` only for the sweep's own questions to git.

    The clone's own config is the agent's to write, as harness's own git knows
    (:func:`artifacts.git_safety.check_config`): before a command in a clone that could run
    a program it names (a clean or smudge filter in ``status``, ``diff`` or ``checkout``, a
    remote's upload or receive program in ``fetch`` or ``push``), a config that names one
    is refused (``GitConfigRefused``); ``checks``, the run's, skips the check while the
    config files are as its last clean verdict found them."""
    found = program("git", outside=root)
    if found is None:
        raise GitError("git is not installed (no `git` on PATH outside the project)")
    if clear and root is not None and args and args[0] not in _RUN_NOTHING:
        check_config(root, checks)
    if clear and root is not None and args and args[0] in WORK_TREE_READERS:
        cleared = sweep.clear(git) if sweep is not None else clear_blockers(root)
        for path in cleared:
            print(
                f"harness fleet: removed {path} in {root}: not a regular file, where git "
                "reads (git would wait on it forever)",
                file=sys.stderr,
            )
    command = [found, *OPTIONS, *args]
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
