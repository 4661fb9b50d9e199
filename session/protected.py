"""The ``[protect]`` paths put back as HEAD has them: before a check runs in the work tree
(:func:`check_in_place`, so a check cannot be weakened through them) and in the
writeback's plan (never committed). What HEAD does not hold there, ignored files and
cached bytecode included, is found on disk by ``session.protected_tree``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.feature_list import FEATURE_LIST
from artifacts.git_commit import committed_blob
from artifacts.git_safety import run_git
from artifacts.io import atomic_write
from session.protected_tree import CHECK_ENV, clear_bytecode, remove_new

if TYPE_CHECKING:
    from runners import CommandResult
    from session.context import WorkContext


def guarded(protected: list[str]) -> list[str]:
    """The protected paths the work tree is compared with HEAD on (the harness's own
    state has its own guards)."""
    return [p for p in protected if p not in (".git", ".harness", FEATURE_LIST)]


def restore_protected(
    root: Path,
    protected: list[str],
    keep: set[str] | None = None,
    known: dict[str, list[int]] | None = None,
) -> list[str]:
    """Put every ``[protect]`` path the work tree changed back as HEAD has it, remove
    what HEAD does not hold there (ignored files included; ``known``: the extras at wake,
    the user's, kept while unchanged) and the bytecode cached for protected sources:
    before a check runs, so a check cannot be weakened through them. The paths restored
    or removed."""

    paths = guarded(protected)
    if not paths or not (root / ".git").is_dir():
        return []
    out = run_git(
        root,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--",
        *paths,
        env={"GIT_LITERAL_PATHSPECS": "1"},
    ).stdout
    changed = sorted(
        {rec[3:].decode("utf-8", "surrogateescape") for rec in out.split(b"\0") if rec}
    )
    changed = [p for p in changed if p not in (keep or set())]  # the user's own: untouched
    for path in changed:
        restore_path(root, path)
    removed = remove_new(root, paths, known or {})
    return sorted({*changed, *removed, *clear_bytecode(root, paths)})


def restore_path(root: Path, path: str) -> None:
    """Put a protected path back as HEAD has it (an agent-made file is removed)."""

    full = root / path
    data = committed_blob(root, "HEAD", path)
    if data is None:
        if full.is_symlink() or full.is_file():
            full.unlink()
        return
    if full.is_symlink():
        full.unlink()
    full.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(full, data, root=root)


def check_in_place(ctx: WorkContext, command: str) -> tuple[CommandResult, list[str]]:
    """``command`` in the agent's own work tree (the session's sandbox), after the
    protected paths are put back as HEAD has them (ignored files there too, and the
    bytecode cached for them: ``session.protected_tree``); it compiles Python from the
    sources, reading no bytecode cache (CHECK_ENV). The result and the paths restored."""

    restored = restore_protected(
        ctx.root, ctx.protected, keep=set(ctx.user_files), known=ctx.protected_extras
    )
    result = ctx.bounded(
        ctx.resources,
        lambda given: ctx.runner.run(command, resources=given, phase="agent", env=CHECK_ENV),
    )
    return result, restored
