"""The `harness` command line: a thin dispatcher.

Each command lives in its own module under ``harness.cli.commands``; the module defines
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the
parsed arguments and returning an exit code. Command modules keep heavy imports (litellm,
docker, textual, pydantic_monty) inside the function, so ``harness --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.errors import ExitCode, HarnessError
from harness.terminal import for_terminal

if TYPE_CHECKING:
    from harness.redact import Redactor
    from harness.scope import ModelMaker, StepHooks

DISTRIBUTION = (
    "durable-agent-harness"  # the name on the package index (the command stays `harness`)
)
JOURNALED = "The journal kept every finished step; `harness run` resumes from there."
"""What to do after a crash or Ctrl-C of a command that journals its steps (run, init, demo):
each sets it as its parser's ``again``; a command that does not journal says its own."""
CLOSED_PIPE = 141  # 128 + SIGPIPE, what git and the shell report for a closed pipe

# One line per command module, in the order `harness --help` lists them, with the commands
# it registers: running a command imports its module only (the others' imports are not
# paid for by `harness status`); help and unknown commands import them all.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("harness.cli.commands.demo", ("demo",)),
    ("harness.cli.commands.init", ("init",)),
    ("harness.cli.commands.run", ("run",)),
    ("harness.cli.commands.status", ("status",)),
    ("harness.cli.commands.validate", ("validate",)),
    ("harness.cli.commands.config", ("config",)),
    ("harness.cli.commands.adopt", ("adopt",)),
    ("harness.cli.commands.state", ("state",)),
    ("harness.cli.commands.ci", ("ci",)),
    ("harness.cli.commands.image", ("image",)),
    ("harness.cli.commands.doctor", ("doctor",)),
    ("harness.cli.commands.tui", ("tui",)),
    ("harness.cli.commands.questions", ("questions", "answer", "approve", "deny")),
    ("harness.cli.commands.escalation_cmd", ("escalation",)),
    ("harness.cli.commands.runs", ("runs",)),
    ("harness.cli.commands.log", ("log",)),
    ("harness.cli.commands.show", ("show",)),
    ("harness.cli.commands.journal_cmd", ("journal",)),
    ("harness.cli.commands.export", ("export",)),
    ("harness.cli.commands.fleet", ("fleet",)),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone (see ``COMMANDS``)."""
    parser = argparse.ArgumentParser(
        prog="harness",
        description="A coding-agent harness: durable sessions, honest progress, sandboxed work.",
        epilog="Exit codes: 0 ok/complete, 1 failed, 2 invalid input, 3 budget exhausted, "
        "4 waiting (for a human, the provider, Docker or disk), 5 stuck, 6 busy (another "
        "process drives the run), 130 interrupted (Ctrl-C; 143 SIGTERM, 129 SIGHUP).",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    parser.add_argument(
        "-C",
        "--project",
        default=".",
        metavar="DIR",
        help="the project folder (default: the current directory)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, names in COMMANDS:
        if command is None or command in names:
            importlib.import_module(module_name).register(subparsers)
    return parser


class _Version(argparse.Action):
    """`--version`, reading the installed version only when asked (importlib.metadata is
    slow to import, and every command parses its arguments)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"harness {version()} ({DISTRIBUTION})")
        parser.exit()


def version() -> str:
    """The installed distribution's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(
    argv: Sequence[str] | None = None,
    *,
    hooks: StepHooks | None = None,
    models: ModelMaker | None = None,
) -> int:
    """`harness` with ``argv``; ``hooks`` (crash switches) and ``models`` (how the runs
    build their models, ``RunScope.models``) reach the run and init commands; hooks are
    given only by `python -m harness.cli.chaos` (the demo's crash, the tests'), models by
    a test's entry."""
    try:
        return _main(argv, hooks, models)
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader went away (`harness log | head`): stop quietly, as git does."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is silent
    except (OSError, ValueError):
        pass
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives until the process ends)
    return CLOSED_PIPE


def project_first(argv: Sequence[str]) -> list[str]:
    """``-C DIR`` (``--project DIR``, ``-CDIR``, ``--project=DIR``) anywhere before ``--``
    moved to the front, so `harness status -C DIR` works as `harness -C DIR status` does
    (as git, make and cargo take it)."""
    front: list[str] = []
    rest: list[str] = []
    items = list(argv)
    index = 0
    while index < len(items):
        item = items[index]
        if item == "--":
            rest += items[index:]
            break
        if item in ("-C", "--project") and index + 1 < len(items):
            front += [item, items[index + 1]]
            index += 2
            continue
        if (item.startswith("-C") and len(item) > 2) or item.startswith("--project="):
            front.append(item)
        else:
            rest.append(item)
        index += 1
    return front + rest


def command_named(items: Sequence[str]) -> str | None:
    """The command ``items`` (``project_first``'s order) run, when it is one of ``COMMANDS``;
    None for anything else (help, --version, an unknown word: every parser is built)."""
    known = {name for _, names in COMMANDS for name in names}
    index = 0
    while index < len(items):
        item = items[index]
        if item in ("-C", "--project"):
            index += 2
        elif item.startswith("-C") or item.startswith("--project="):
            index += 1
        elif item.startswith("-"):
            return None
        else:
            return item if item in known else None
    return None


def _main(argv: Sequence[str] | None, hooks: StepHooks | None, models: ModelMaker | None) -> int:
    items = project_first(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_named(items))
    args = parser.parse_args(items)
    if not hasattr(args, "func"):
        parser.print_help()
        return int(ExitCode.INVALID)
    args.hooks = hooks
    args.models = models
    from harness import signals

    args.stopping = signals.Stopping()  # a run gives it its events (`run`, `init`)
    try:
        # SIGTERM and SIGHUP stop a command as Ctrl-C does (the TUI keeps its own ways).
        interruptible = signals.interruptible(args.stopping)
        with interruptible if args.command != "tui" else contextlib.nullcontext():
            return int(args.func(args))
    except BrokenPipeError:
        raise
    except HarnessError as error:
        print(f"harness: {for_terminal(str(error))}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, SIGTERM, SIGHUP (harness.signals)
        again = getattr(args, "again", "")
        print(
            f"harness: interrupted ({signals.describe(interrupt)}).{' ' + again if again else ''}",
            file=sys.stderr,
        )
        return signals.exit_code(interrupt)
    except Exception as error:  # a bug of ours: keep the traceback in a file, not on screen
        from harness.crashlog import save_traceback

        where = save_traceback(args.project, _secrets_of(args.project))
        again = getattr(args, "again", "")
        print(
            f"harness: internal error: {type(error).__name__}: {error}. "
            f"{again + ' ' if again else ''}Traceback: {where}",
            file=sys.stderr,
        )
        return int(ExitCode.FAILED)


def _secrets_of(project: str) -> Redactor:
    """The secrets a run of ``project`` hides (its key variable too, when its config can be
    read): what a traceback of ours must not hold."""
    from pathlib import Path

    from harness.config import load_config
    from harness.redact import Redactor

    try:
        key_env = load_config(Path(project)).model.api_key_env
    except (HarnessError, OSError):
        key_env = None
    return Redactor(also=[key_env] if key_env else [])


if __name__ == "__main__":
    sys.exit(main())
