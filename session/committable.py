"""Which files a harness commit may take, and why each other one is left out.

The one selection every harness commit goes through: the writeback's (session.writeback)
and the first commits of `harness init` and `harness adopt` (initializer). A candidate is
left out when it is not a regular file or symlink, when its size (from ``lstat``, nothing
read) is above ``[git] max_file_mb``, when it holds a secret (:mod:`session.secrets`), or
when it would take the commit beyond ``[git] max_commit_mb`` or ``max_commit_files`` (the
paths past that count, in order, are one entry and are not looked at). A file left out is not
staged, not changed and not deleted: it stays the user's, on disk, uncommitted; the
caller tells the agent or the user, with the reason and what to do.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from artifacts.git_safety import run_git
from session.secrets import SecretScanner

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from artifacts.git_safety import ConfigChecks
    from harness.redact import Redactor

MIB = 1024 * 1024


class Excluded(BaseModel):
    """A file left out of a commit: the reason, and what to do about it."""

    path: str
    reason: str
    fix: str = ""
    more: int = 0
    """How many further paths are left out for the same reason (the count limit's: one
    note for all, not one entry each)."""

    def note(self) -> str:
        what = self.path + (f" and {self.more:,} more" if self.more else "")
        return f"not committed: {what}: {self.reason}" + (f"; {self.fix}" if self.fix else "")


class Selection(BaseModel):
    """The candidates a commit may take, and those it leaves out."""

    paths: list[str] = Field(default_factory=list)
    excluded: list[Excluded] = Field(default_factory=list)


def changed_paths(root: Path, checks: ConfigChecks | None = None) -> list[str]:
    """Every path that differs from HEAD or is untracked (not ignored), sorted."""

    out = run_git(
        root,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignore-submodules=all",
        "--no-renames",
        checks=checks,
    ).stdout
    return sorted({rec[3:].decode("utf-8", "surrogateescape") for rec in out.split(b"\0") if rec})


def select_committable(
    root: Path,
    candidates: list[str],
    config: HarnessConfig,
    secrets: Redactor | None = None,
) -> Selection:
    """Split ``candidates`` (paths relative to ``root``, in commit order) into those the
    commit may take and those it leaves out; a deleted candidate is kept (the commit
    records the deletion). Nothing on disk is changed. A file holding one of the run's
    ``secrets`` (default: those of ``os.environ`` and ``config``) is left out."""

    scanner = SecretScanner.from_config(config) if secrets is None else SecretScanner.of(secrets)
    limit_mb, budget_mb = config.git.max_file_mb, config.git.max_commit_mb
    max_file, budget = int(limit_mb * MIB), int(budget_mb * MIB)
    chosen = Selection()
    most = config.git.max_commit_files
    for index, path in enumerate(candidates):
        if len(chosen.paths) >= most:  # the rest are not even looked at
            rest = candidates[index:]
            why = f"the commit would take more than [git] max_commit_files = {most:,} paths"
            fix = "commit them yourself, add them to .gitignore, or raise [git] max_commit_files"
            chosen.excluded.append(Excluded(path=rest[0], reason=why, fix=fix, more=len(rest) - 1))
            break
        full = root / path
        try:
            info = full.lstat()
        except FileNotFoundError:
            chosen.paths.append(path)
            continue
        if stat.S_ISLNK(info.st_mode):
            size = len(os.readlink(full))
        elif stat.S_ISREG(info.st_mode):
            size = info.st_size
        else:
            fix = "add it to .gitignore, or commit it yourself"
            chosen.excluded.append(Excluded(path=path, reason="not a regular file", fix=fix))
            continue
        if size > max_file:
            why = f"{size / MIB:.1f} MiB is above [git] max_file_mb = {limit_mb:g}"
            fix = "add it to .gitignore, or raise [git] max_file_mb in harness.toml"
            chosen.excluded.append(Excluded(path=path, reason=why, fix=fix))
            continue
        if stat.S_ISREG(info.st_mode):
            found = scanner.scan_file(full, size)
            if found is not None:
                why = f"it holds what looks like a secret ({found})"
                fix = "remove the secret from the file, or add the file to .gitignore"
                chosen.excluded.append(Excluded(path=path, reason=why, fix=fix))
                continue
        if size > budget:
            why = f"the commit would exceed [git] max_commit_mb = {budget_mb:g}"
            fix = "commit it yourself, or raise [git] max_commit_mb in harness.toml"
            chosen.excluded.append(Excluded(path=path, reason=why, fix=fix))
            continue
        budget -= size
        chosen.paths.append(path)
    return chosen
