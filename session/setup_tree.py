"""init.sh with the setup network runs only on a tree a person or the initializer committed.

An ``init.sh`` that is unchanged since its last human (or initializer) commit is trusted
with the setup network at wake, but it may run any file of the project: a
``scripts/setup.sh`` the agent edited, a ``.venv/bin/pip`` it planted, reached a service
on the host from the wake. So, on a sandboxed runner, the setup phase with network runs
in a clean checkout of :func:`artifacts.git_state.trusted_commit` (the newest commit no
session made), mounted where the project is, with the project's ``.git`` read-only; what
it produced that git ignores there (a virtualenv, ``node_modules``, build output: the
environment it brings up) is moved into the project where the project has nothing there
or has what an earlier wake moved in (listed in ``.harness/setup-products.json``), never
over a file of yours (an ignored ``.env`` that init.sh would make from its template).
Files it made that git would not ignore, and its changes to tracked files, are dropped:
they are not the environment, and the project's files win.

The checkout is made fresh at each wake under ``.harness/setup/`` (same file system as
the project: products move by rename) and removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_safety import ConfigChecks, run_git
from artifacts.git_state import trusted_commit
from artifacts.io import atomic_write
from runners.protect import shallowest

if TYPE_CHECKING:
    from runners import CommandResult, Runner

SETUP = Path(".harness") / "setup"


def run_setup(
    root: Path,
    runner: Runner,
    command: str,
    protected: list[str],
    checks: ConfigChecks | None = None,
) -> CommandResult:
    """``command`` (init.sh) in the setup phase, on a clean checkout of the trusted commit
    mounted where the project is; its products moved in; the result's note says what
    happened. Without a trusted commit (no history yet) it runs on the project itself.
    ``checks``: the session's (its config verdict and its sweep of the tree)."""

    sha = trusted_commit(root, checks=checks) if (root / ".git").is_dir() else None
    if sha is None:
        return runner.run(command, phase="setup")
    tree = checkout(root, sha, checks)
    try:
        result = runner.run(command, phase="setup", tree=tree, cache=True)
        products = adopt(root, tree, sha, protected, checks)
    finally:
        _remove(tree)
    note = products.note(sha)
    return result.model_copy(update={"note": f"{result.note}; {note}" if result.note else note})


@dataclass
class Products:
    """What the setup left in the checkout: moved into the project, or not."""

    moved: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # not ignored by git: not the environment
    refused: list[str] = field(default_factory=list)  # tracked at HEAD, or behind a link
    kept: list[str] = field(default_factory=list)  # the project's own file is there

    def note(self, sha: str) -> str:
        parts = [
            f"init.sh ran with the setup network in a clean checkout of {sha[:10]} (the last "
            "commit a person or the initializer made; your changes since do not run with "
            "network)"
        ]
        if self.moved:
            parts.append("moved into the project: " + ", ".join(self.moved[:10]))
        if self.dropped:
            parts.append("dropped (git does not ignore them): " + ", ".join(self.dropped[:10]))
        if self.kept:
            parts.append("yours kept over the setup's: " + ", ".join(self.kept[:10]))
        if self.refused:
            parts.append(
                "dropped, not moved (tracked, or behind a link): " + ", ".join(self.refused[:10])
            )
        return "; ".join(parts) + "."


def checkout(root: Path, sha: str, checks: ConfigChecks | None = None) -> Path:
    """A clean checkout of ``sha`` in a new folder under ``.harness/setup`` (earlier ones,
    left by a killed wake, are removed first: one run works in a project at a time)."""

    parent = root / SETUP
    if parent.is_dir():
        for stale in parent.iterdir():
            _remove(stale)
    parent.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix=f"{sha[:12]}-", dir=parent))
    os.chmod(tree, 0o755)
    with tempfile.TemporaryDirectory() as private:
        index = {"GIT_INDEX_FILE": str(Path(private) / "index")}
        run_git(root, "read-tree", sha, env=index, checks=checks)
        run_git(
            root, "--work-tree", str(tree), "checkout-index", "-a", "-f", env=index, checks=checks
        )
    return tree


def tracked(root: Path, sha: str, checks: ConfigChecks | None = None) -> set[str]:
    """The paths of ``sha``'s tree, files and the folders holding them."""

    done = run_git(root, "ls-tree", "-r", "-z", "--name-only", sha, checks=checks)
    paths: set[str] = set()
    for name in done.stdout.decode("utf-8", "surrogateescape").split("\0"):
        parts = name.split("/") if name else []
        paths.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return paths


def new_paths(tree: Path, known: set[str]) -> list[str]:
    """The shallowest paths of ``tree`` that ``known`` does not hold (what the setup made),
    without descending into them."""

    return sorted(relative for relative, _ in shallowest(tree, lambda r, _: r not in known))


def adopt(
    root: Path, tree: Path, sha: str, protected: list[str], checks: ConfigChecks | None = None
) -> Products:
    """Move what the setup made in ``tree`` and git ignores there into the project: where
    the project has nothing, or what an earlier wake put there (``.harness``'s list), never
    over a file of yours (an ignored ``.env`` an init.sh would make from its template)."""

    products = Products()
    made = [p for p in new_paths(tree, tracked(root, sha, checks)) if not _guarded(p, protected)]
    placed = _placed(root)
    if made:
        ignored = run_git(
            root,
            "--work-tree",
            str(tree),
            "check-ignore",
            "--no-index",
            "--stdin",
            "-z",
            input=b"\0".join(p.encode("utf-8", "surrogateescape") for p in made) + b"\0",
            check=False,
            checks=checks,
        ).stdout.decode("utf-8", "surrogateescape")
        chosen = {p for p in ignored.split("\0") if p}
        at_head = tracked(root, "HEAD", checks) if chosen else set()
        for relative in made:
            if relative not in chosen:
                products.dropped.append(relative)
            elif relative in at_head or not _plain_parents(root, relative):
                products.refused.append(relative)
            elif os.path.lexists(root / relative) and relative not in placed:
                products.kept.append(relative)
            elif _move(tree / relative, root / relative):
                products.moved.append(relative)
            else:
                products.refused.append(relative)
    still = [p for p in placed if p not in products.moved and os.path.lexists(root / p)]
    _record(root, sorted({*still, *products.moved}))
    return products


PLACED = Path(".harness") / "setup-products.json"


def _placed(root: Path) -> set[str]:
    """The paths earlier wakes moved into the project (theirs to replace)."""
    try:
        data = json.loads((root / PLACED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {p for p in data if isinstance(p, str)} if isinstance(data, list) else set()


def _record(root: Path, paths: list[str]) -> None:

    atomic_write(root / PLACED, json.dumps(paths, indent=1) + "\n", root=root)


def _plain_parents(root: Path, relative: str) -> bool:
    """No link among the folders above ``relative`` (a product must land in the project)."""
    parent = Path(relative).parent
    return (root / parent).resolve() == root.resolve() / parent


def _move(source: Path, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove(target)
    try:
        os.rename(source, target)  # the same file system: no copy
    except OSError:
        return False
    return True


def _guarded(relative: str, protected: list[str]) -> bool:
    first = relative.split("/")[0]
    return first in (".git", ".harness") or any(
        relative == p or relative.startswith(p + "/") for p in protected
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
