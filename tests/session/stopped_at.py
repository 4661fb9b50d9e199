"""`harness` stopped at a chosen point of its git work, once, for the tests.

Usage: python -m tests.session.stopped_at POINT[@SIGNAL] MARKER -- HARNESS ARGS...

POINT is where the process is stopped; with SIGKILL (the default) it dies leaving what a
real kill there leaves (as measured by killing real `git init` and `git update-ref`
processes at random moments):
- ``git-init:<entries>``: inside `git init`: ``.git`` holds only the comma-separated
  entries (taken from a real `git init`, in git's own order of writing them);
- ``update-ref`` (``update-ref#2``: the second one): inside `git update-ref`:
  ``HEAD.lock`` and the branch's ``.lock`` written, the branch not moved (with another
  signal than KILL: the signal arrives just before `git update-ref` would run);
- ``index-sync``: after the commit's `update-ref`, before the user's index is synced;
- ``raise:<Error>:<module>:<function>``: the function raises that error (a builtin such as
  MemoryError) instead of running, once: a fault of the harness's own process;
- ``call:<module>:<function>#n``: at the n-th call of that function, before it runs;
  ``after:<module>:<function>#n``: right after its n-th call returned.
``@TERM``, ``@HUP``: the process sends itself that signal there instead of SIGKILL.
MARKER is a file: once it exists the point is passed, so the resumed process goes on.
"""

from __future__ import annotations

import builtins
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import artifacts.git as git_module
import artifacts.git_commit as git_commit
import artifacts.git_safety as git_safety
from harness.cli import main as harness_main
from harness.model.make import scripted_in_process

SIGNAL = signal.SIGKILL


def _die(marker: Path) -> None:
    marker.write_text("stopped here\n")
    os.kill(os.getpid(), SIGNAL)


def _half_made(root: Path, entries: list[str]) -> None:
    """The entries of a real `git init`'s .git, and nothing more."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["git", "init", "-q", "-b", "main", scratch], check=True)
        git_dir = root / ".git"
        git_dir.mkdir(exist_ok=True)
        for name in entries:
            source = Path(scratch) / ".git" / name.removesuffix(".lock")
            target = git_dir / name
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copyfile(source, target)


def install(point: str, marker: Path) -> None:
    """Patch harness so that it dies at ``point`` (unless ``marker`` exists)."""
    global SIGNAL
    if marker.exists():
        return
    point, _, name = point.partition("@")
    SIGNAL = signal.Signals[f"SIG{name}"] if name else signal.SIGKILL
    point, _, nth = point.partition("#")
    seen = 0

    if point.startswith("git-init:"):
        entries = point.partition(":")[2].split(",")

        def init(cls: Any, root: Path) -> Any:
            _half_made(Path(root), entries)
            _die(marker)

        git_module.GitRepo.init = classmethod(init)  # type: ignore[method-assign,assignment]
    elif point == "update-ref":
        real = git_safety.run_git_unchecked

        def run(root: Any, *args: str, **kwargs: Any) -> Any:
            nonlocal seen
            if args and args[0] == "update-ref" and not marker.exists():
                seen += 1
                if seen == int(nth or 1):
                    if SIGNAL == signal.SIGKILL:
                        git_dir = Path(root) / ".git"
                        sha = args[-2] if len(args) >= 2 else ""
                        (git_dir / "HEAD.lock").write_text(f"{sha}\n")
                        (git_dir / "refs" / "heads").mkdir(parents=True, exist_ok=True)
                        (git_dir / "refs" / "heads" / "main.lock").write_text(f"{sha}\n")
                    _die(marker)
            return real(root, *args, **kwargs)

        git_safety.run_git_unchecked = run
    elif point == "index-sync":

        def sync(root: Path, paths: list[str], checks: Any = None) -> None:
            _die(marker)

        git_commit.sync_index = sync
    elif point.startswith(("call:", "after:")):
        when, module_name, function = point.split(":")
        module = importlib.import_module(module_name)
        real_call = getattr(module, function)

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal seen
            seen += 1
            due = seen == int(nth or 1) and not marker.exists()
            if due and when == "call":
                _die(marker)
            value = real_call(*args, **kwargs)
            if due:
                _die(marker)
            return value

        setattr(module, function, counted)
    elif point.startswith("raise:"):
        _, error_name, module_name, function = point.split(":")
        module = importlib.import_module(module_name)
        real_function = getattr(module, function)
        error = getattr(builtins, error_name)

        def failing(*args: Any, **kwargs: Any) -> Any:
            if marker.exists():
                return real_function(*args, **kwargs)
            marker.write_text("raised here\n")
            raise error(f"{error_name} raised on purpose by the test")

        setattr(module, function, failing)
    else:
        raise SystemExit(f"unknown point {point!r}")


def main() -> int:
    point, marker, dashes, *args = sys.argv[1:]
    assert dashes == "--"
    install(point, Path(marker))

    return harness_main(args, models=scripted_in_process)  # no litellm: not its subject


if __name__ == "__main__":
    sys.exit(main())
