"""A check on a clean checkout, in a fresh sandbox: nothing of the agent's comes along.

:class:`Checkout` writes a git tree's exact bytes into a new folder outside the project
(:func:`artifacts.git_tree.checkout_tree`), lays the hidden files over it
(:mod:`session.verify.hidden`) and the carried work-tree paths (``[verify] carry``,
read-only), and builds a runner on it of the session runner's kind, so every command is a
fresh sandbox: a new bubblewrap with new tmpfs ``$HOME`` and ``/tmp``, a new Docker
container (never the session's, whose ``$HOME`` and ``/tmp`` outlive commands). With
``[verify] setup`` the checkout's own init.sh runs first (in its own fresh sandbox, without
network: the tree is the agent's). Nothing the agent left outside that tree (untracked or
ignored files, caches, ``$HOME``, ``/tmp``, processes) is there.

The local runner is not a sandbox: its check runs in the checkout folder, but as you, with
your ``$HOME``; README says so.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from artifacts.git_tree import checkout_tree
from artifacts.models import digest
from harness.walk import Walk, remove_tree
from runners.base import CommandResult, Failure, Resources
from runners.process import pid_alive
from session.verify.hidden import lay

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks
    from runners import Runner
    from session.verify.hidden import HiddenFiles

RunnerFactory = Callable[[Path, dict[str, Path]], "Runner"]
"""Builds a runner on a checkout folder, binding ``carry`` (place -> work-tree path)."""

TAIL_CHARS = 6_000
INIT_SCRIPT = "init.sh"
SETUP_COMMAND = f"if command -v bash >/dev/null; then bash {INIT_SCRIPT}; else sh {INIT_SCRIPT}; fi"
PREFIX = "harness-check-"


def checkouts_home() -> Path:
    """Where checkouts live: a private folder of this user in the system's temp folder
    (outside every project, so no agent sandbox shows it)."""
    home = Path(tempfile.gettempdir()) / f"harness-checks-{os.getuid()}"
    home.mkdir(mode=0o711, exist_ok=True)
    if home.is_symlink() or home.stat().st_uid != os.getuid():
        raise OSError(f"{home} is not this user's own folder; remove it")
    # Searchable, not listable: when harness runs as root, a check of a project that
    # belongs to a user runs as that user (runners/bwrap_view.py) and must reach its
    # checkout, whose random name it is given.
    home.chmod(0o711)
    return home


def sweep() -> None:
    """Remove checkouts whose harness process is gone (a kill mid-check leaves one)."""
    home = checkouts_home()
    for entry in home.iterdir():
        pid = entry.name.removeprefix(PREFIX).split("-", 1)[0]
        if not pid.isdigit() or pid_alive(int(pid)):
            continue
        remove_tree(entry)  # iterative: a checkout of a 100,000-deep tree goes too


class SetupRun(BaseModel):
    """init.sh on the checkout."""

    exit_code: int | None
    failure: Failure | None = None
    tail: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None and self.exit_code == 0


class CleanRun(BaseModel):
    """A command on a clean checkout of ``tree``, in a fresh sandbox."""

    tree: str
    command: str
    exit_code: int | None
    output_digest: str
    stdout: str = ""
    stderr: str = ""
    failure: Failure | None = None
    setup: SetupRun | None = None
    problems: list[str] = []
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        """The check ran and exited 0 on exactly that tree."""
        ready = not self.problems and (self.setup is None or self.setup.ok)
        return ready and self.failure is None and self.exit_code == 0

    def why(self) -> str:
        """Why it did not pass, in a line ("" when it passed)."""
        if self.problems:
            return "; ".join(self.problems)
        if self.setup is not None and not self.setup.ok:
            return (
                f"init.sh failed on the clean checkout (exit {self.setup.exit_code}"
                + (f", {self.setup.failure.kind}" if self.setup.failure else "")
                + "); it runs there in a fresh sandbox without network: dependencies it "
                "would fetch belong in [verify] carry (e.g. .venv, node_modules)"
            )
        if self.failure is not None:
            return f"{self.failure.kind}: {self.failure.message}"
        return "" if self.exit_code == 0 else f"exit {self.exit_code}"

    def result(self) -> CommandResult:
        """As a command's result (what the model reads)."""
        return CommandResult(
            command=self.command,
            exit_code=self.exit_code,
            stdout=self.stdout,
            stderr=self.stderr,
            duration_s=self.duration_s,
            failure=self.failure,
        )


def output_digest(result: CommandResult) -> str:
    """The digest evidence keeps of a check's output (as verify_feature always has)."""

    return digest(f"{result.exit_code}\n{result.stdout}\n{result.stderr}")


class Checkout:
    """A clean checkout of one tree in a new folder, with a runner on it; a context manager
    that removes both."""

    def __init__(
        self,
        root: Path,
        tree: str,
        *,
        make_runner: RunnerFactory,
        checks: ConfigChecks | None = None,
        hidden: HiddenFiles | None,
        carry: list[str],
        setup: bool,
        resources: Resources | None,
    ) -> None:
        self.root, self.tree, self.checks = root, tree, checks
        self.make_runner, self.hidden, self.carry = make_runner, hidden, carry
        self.setup, self.resources = setup, resources
        self.folder: Path | None = None
        self.runner: Runner | None = None
        self.problems: list[str] = []
        self.setup_run: SetupRun | None = None

    def __enter__(self) -> Checkout:

        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=checkouts_home()))
        try:
            # Bytecode caches are derived, and a forged one whose header matches its source
            # is loaded unchecked: Python rebuilds them from the checkout's own sources.
            skip = ("__pycache__",)
            checkout_tree(self.root, self.tree, self.folder, skip=skip, checks=self.checks)
            if self.hidden is not None:
                self.problems += lay(self.root, self.folder, self.hidden)
            carried = self._carry()
            _like_project(self.folder, self.root)
            self.runner = self.make_runner(self.folder, carried)
            if self.setup and (self.folder / INIT_SCRIPT).is_file() and not self.problems:
                self.setup_run = self._setup()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _carry(self) -> dict[str, Path]:
        """The carried work-tree paths that exist: a place for each in the checkout (a
        sandbox binds them there read-only)."""
        assert self.folder is not None
        carried = {}
        for relative in self.carry:
            source = self.root / relative
            if not source.exists() or not source.resolve().is_relative_to(self.root.resolve()):
                continue
            target = self.folder / relative
            if os.path.lexists(target):
                continue  # the tree holds it: the commit's bytes win
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                target.mkdir()
            else:
                target.touch()
            carried[relative] = source.resolve()
        return carried

    def _setup(self) -> SetupRun:
        assert self.runner is not None
        result = self.runner.run(SETUP_COMMAND, resources=self.resources, phase="agent", fresh=True)
        tail = (result.stdout + result.stderr)[-TAIL_CHARS:]
        return SetupRun(exit_code=result.exit_code, failure=result.failure, tail=tail)

    def run(self, command: str, *, resources: Resources | None = None) -> CleanRun:
        """``command`` in a fresh sandbox on the checkout."""
        assert self.runner is not None
        started = time.monotonic()
        if self.problems or (self.setup_run is not None and not self.setup_run.ok):
            empty = CommandResult(
                command=command, exit_code=None, stdout="", stderr="", duration_s=0.0
            )
            return CleanRun(
                tree=self.tree,
                command=command,
                exit_code=None,
                output_digest=output_digest(empty),
                setup=self.setup_run,
                problems=self.problems,
            )
        result = self.runner.run(command, resources=resources or self.resources, fresh=True)
        return CleanRun(
            tree=self.tree,
            command=command,
            exit_code=result.exit_code,
            output_digest=output_digest(result),
            stdout=result.stdout[-TAIL_CHARS:],
            stderr=result.stderr[-TAIL_CHARS:],
            failure=result.failure,
            setup=self.setup_run,
            duration_s=round(time.monotonic() - started, 3),
        )

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            with contextlib.suppress(Exception):
                self.runner.close()
            self.runner = None
        if self.folder is not None:
            remove_tree(self.folder)
            self.folder = None


def _like_project(folder: Path, root: Path) -> None:
    """Give the checkout folder the project folder's mode, and as root its owner: the
    sandbox's user writes its checkout as it writes the project."""
    info = root.stat()
    folder.chmod(info.st_mode & 0o777)
    if os.geteuid() != 0 or (info.st_uid, info.st_gid) == (0, 0):
        return
    with contextlib.suppress(OSError):
        os.lchown(folder, info.st_uid, info.st_gid)
    for entry in Walk(folder, skip_own=False, folders=True):  # any depth, no link followed
        with contextlib.suppress(OSError):
            os.chown(
                entry.name, info.st_uid, info.st_gid, dir_fd=entry.dir_fd, follow_symlinks=False
            )
