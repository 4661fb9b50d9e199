"""The sweep of a work tree before git reads it, at the cost of what git reads.

:func:`artifacts.git_blockers.clear_blockers` walks the whole tree for files git would
block on (a FIFO named ``.gitignore``...). git itself never looks inside a folder an ignore
rule names, when nothing in it is tracked (a ``.venv``, ``node_modules``): on a clone with
a virtual environment the walk cost 70 ms before each 4.6 ms ``git status``. A
:class:`Sweep` (one per work tree, kept by its owner: a fleet run's checkpointer, a run's
:class:`artifacts.git_safety.ConfigChecks`) walks those folders once, asks git which
folders match an ignore rule (``git status --ignored=matching``: not inside them), and
from then on leaves them out, as long as nothing that decides them changed:

- every ``.gitignore`` it walks past (their contents; the ones inside a left-out folder
  decide nothing about it);
- ``.git/info/exclude``, the repository's, the user's and the system's git config and the
  global excludes file (``core.excludesFile``, or its default place; their contents);
- the index (its stamp; when it changed, ``git ls-files`` says whether anything is tracked
  in a left-out folder now: a folder git walks into again is walked again).

Any change, or a work tree whose ``.git`` is not a folder: the whole tree, as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from artifacts.git_blockers import clear_blockers, content_digest

Git = Callable[..., str]
"""The owner's git, ``git(root, *args, check=, clear=False) -> stdout`` (passed in:
``fleet.hostgit.git``, or harness's hardened git for ``ConfigChecks``)."""


class Sweep:
    """The blocker sweep of one clone, remembering the folders git does not read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.skip: frozenset[str] = frozenset()
        """Folders matching an ignore rule, nothing tracked in them: not walked."""
        self._rules: dict[str, str] | None = None  # each .gitignore walked: its digest
        self._inputs: tuple[str, ...] = ()
        self._index: tuple[int, ...] | None = None
        self._excludes: Path | None = None  # core.excludesFile, where the config names one
        self.full = 0
        """Whole-tree sweeps made (the first, and one after each change of the rules)."""

    def clear(self, git: Git) -> list[str]:
        """Remove what git would block on; their paths (see the module docstring)."""
        inputs = self._read_inputs()
        removed: list[str] = []
        if self._rules is not None and inputs == self._inputs:
            rules: dict[str, str] = {}
            removed = clear_blockers(self.root, skip=self.skip, rules=rules)
            if rules == self._rules and self._index_fits(git):
                return removed
        named = git(self.root, "config", "--get", "core.excludesFile", check=False, clear=False)
        self._excludes = Path(named).expanduser() if named else None
        inputs = self._read_inputs()  # before the walk and git's answer: a change shows
        rules = {}
        removed += clear_blockers(self.root, rules=rules)
        self.full += 1
        self._inputs, self._rules = inputs, rules
        if not (self.root / ".git").is_dir():
            self.skip, self._rules = frozenset(), None  # a linked work tree: always whole
            return removed
        self._index = _stamp(self.root / ".git" / "index")
        self.skip = self._ignored(git)
        # what a walk that leaves them out sees next time (a .venv holds its own .gitignore)
        self._rules = {path: d for path, d in rules.items() if not _inside(path, self.skip)}
        return removed

    def _ignored(self, git: Git) -> frozenset[str]:
        """The folders git says match an ignore rule (it lists them, not what is inside);
        one with anything tracked in it is listed by its files instead."""
        out = git(self.root, "status", "--porcelain=v1", "-z", "--ignored=matching",
                  "--untracked-files=normal", clear=False)  # fmt: skip
        return frozenset(
            entry[3:-1]
            for entry in out.split("\0")
            if entry.startswith("!! ") and entry.endswith("/") and len(entry) > 4
        )

    def _index_fits(self, git: Git) -> bool:
        """Nothing is tracked in a left-out folder: the index is as it was, or what it
        tracks there is nothing (``git ls-files``: the index only, no work-tree file)."""
        now = _stamp(self.root / ".git" / "index")
        if now == self._index or not self.skip:
            return True
        paths = [f"{folder}/" for folder in sorted(self.skip)]
        # literal whatever GIT_*_PATHSPECS the environment sets (a folder named `*` too)
        if git(self.root, "--literal-pathspecs", "ls-files", "-z", "--cached", "--", *paths,
               clear=False):  # fmt: skip
            return False
        self._index = now
        return True

    def _read_inputs(self) -> tuple[str, ...]:
        """The contents of the other files that decide what git ignores."""
        home = Path(os.environ.get("HOME") or "~").expanduser()
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "git"
        files = [
            self.root / ".git" / "info" / "exclude",
            self.root / ".git" / "config",
            self.root / ".git" / "config.worktree",
            home / ".gitconfig",
            config / "config",
            config / "ignore",
            Path("/etc/gitconfig"),
        ]
        if self._excludes is not None:
            files.append(self.root / self._excludes)  # a relative name: from the clone
        return tuple(content_digest(str(path)) for path in files)


def _inside(path: str, folders: frozenset[str]) -> bool:
    """Whether ``path`` lies in one of ``folders`` (all paths from the clone's root)."""
    parts = path.split("/")
    return any("/".join(parts[:depth]) in folders for depth in range(1, len(parts)))


def _stamp(path: Path) -> tuple[int, ...] | None:
    """The index's stamp: git writes it by renaming a new file over it (a new inode)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
