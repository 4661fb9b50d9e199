"""`harness init`: the initializer agent writes the protocol files and the first commit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli.flags import add_config_flag, overrides
from harness.errors import ArtifactError

if TYPE_CHECKING:
    from harness.pidlock import PidLock
    from initializer.agent import InitReport

DEFAULT_SPEC = "SPEC.md"
FEATURE_LIST = "feature_list.json"


def register(subparsers: Any) -> None:
    from harness.cli import JOURNALED

    parser = subparsers.add_parser(
        "init",
        help="initialise a project from a specification (resumes if interrupted)",
        description="The initializer agent reads the spec (and an existing codebase) and writes "
        "feature_list.json (all failing), init.sh, progress.md, harness.toml and .gitignore, "
        "then makes the first commit. On an initialised project it changes nothing.",
    )
    parser.add_argument(
        "--spec", metavar="FILE", help="the specification (default: ./SPEC.md when there is one)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="the model, written into harness.toml: a litellm name such as "
        "anthropic/claude-sonnet-4-5, openai/gpt-4o-mini, ollama_chat/qwen2.5-coder",
    )
    parser.add_argument(
        "--api-base",
        metavar="URL",
        help="[model] api_base: a local OpenAI-compatible server, e.g. http://localhost:8080/v1",
    )
    parser.add_argument(
        "--api-key-env", metavar="VAR", help="[model] api_key_env: the variable holding the key"
    )
    add_config_flag(parser)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr (errors only)"
    )
    parser.set_defaults(func=run, again=JOURNALED)


def config_text(model: Any) -> str:
    """harness.toml as `init` writes it: the template with the model init used (from
    --model, --api-base, --api-key-env, or the environment)."""
    import json

    from session.prompt import render

    lines = []
    for key, value in (
        ("name", model.name),
        ("api_base", model.api_base),
        ("api_key_env", model.api_key_env),
    ):
        if value:
            lines.append(f"{key} = {json.dumps(value)}")  # a JSON string is a TOML string
    return render("harness_toml", model_lines="\n".join(lines))


def run(args: argparse.Namespace) -> int:
    from harness.config import load_config
    from harness.model.names import no_model_error
    from initializer.in_flight import drop_init, hold_init

    root = Path(args.project).resolve()
    config = load_config(root, overrides=overrides(args))
    # A relative --spec is read from the project folder, as git reads paths after -C;
    # without one, the project's SPEC.md (what Claude Code and Codex users keep there).
    spec = (root / args.spec).resolve() if args.spec else None
    if spec is None and (root / DEFAULT_SPEC).is_file() and not (root / FEATURE_LIST).exists():
        spec = root / DEFAULT_SPEC
        print(f"harness init: using ./{DEFAULT_SPEC} (no --spec given)")
    fresh = not (root / "feature_list.json").exists()
    if fresh:
        if not config.model.name:
            raise no_model_error()  # before anything is written or paid for (exit 2)
        if spec is not None and not spec.is_file():
            raise ArtifactError(spec, "--spec", "the specification does not exist", "")
    # Held from before the first write to the end: `harness run` (or another init) beside
    # this one says it still runs (exit 6), before this init has recorded anything.
    no_state = not (root / ".harness").exists()
    held = hold_init(root)
    try:
        report = _initialise(root, args, config, spec, fresh, held)
    except BaseException:
        if no_state:
            drop_init(root, held)
        raise
    finally:
        held.release()
    if report.already:
        print(
            f"harness init: {root} is already initialised ({report.features} features); "
            "nothing changed. Use `harness run` to work on it."
        )
    else:
        init_sh = ", init.sh" if (root / "init.sh").exists() else " (no init.sh)"
        print(
            f"harness init: wrote {report.features} features (all failing){init_sh}, "
            f"progress.md; first commit {(report.commit or '')[:10]}"
        )
        if report.commit:
            print(
                f"harness init: the first commit holds {_named(root, report.commit, report.paths)}"
            )
    return 0


def _initialise(
    root: Path,
    args: argparse.Namespace,
    config: Any,
    spec: Path | None,
    fresh: bool,
    held: PidLock,
) -> InitReport:
    """What `harness init` does under its lock: harness.toml and the model's check when
    the project is new, then the initializer (or the report that it was done)."""
    from harness.cli.live import ProgressLines
    from harness.config import run_scope
    from harness.events import Events
    from initializer.agent import initialize

    if fresh:
        # harness.toml first, with the model the user named: every later error's advice
        # ("fix [model] name in harness.toml") points at a file that is there.
        _write_model_flags(root, args, config_text(config.model))
        _check_model(root, config, quiet=getattr(args, "quiet", False))
    watchers = [] if getattr(args, "quiet", False) else [ProgressLines()]
    scope = run_scope(config, events=Events(*watchers), hooks=args.hooks, models=args.models)
    args.stopping.say = scope.events.notice  # a SIGTERM is said as the init's notice
    return initialize(
        root, spec, config, config_text=config_text(config.model), scope=scope, held=held
    )


def _named(root: Path, sha: str, paths: list[str] | None, most: int = 20) -> str:
    """The files a commit took (``paths``, or git's answer when the caller has none), named
    (at most ``most``, then how many more)."""
    from artifacts.git_commit import committed_paths

    if paths is None:
        paths = committed_paths(root, sha)
    shown = ", ".join(paths[:most]) + (
        f" and {len(paths) - most:,} more" if len(paths) > most else ""
    )
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''}: {shown}"


def _check_model(root: Path, config: Any, *, quiet: bool) -> None:
    """The model's setup, checked before the initializer starts (ConfigError, exit 2)."""
    import sys

    from harness.model.preflight import check_model
    from harness.model.pricing import check_dollar_budget

    found = check_model(config.model, root)
    check_dollar_budget(config.model, config.budgets)
    if not quiet:
        for line in found.lines:
            print(f"harness init: model: {line}", file=sys.stderr)


def _write_model_flags(root: Path, args: argparse.Namespace, text: str) -> None:
    """harness.toml with the model flags given to init: a new one is written from the
    template with them (``text``), an existing one gets them in [model], so the next
    command uses that model even when this init stops."""
    from artifacts.io import atomic_write
    from artifacts.toml_edit import set_table_keys

    toml = root / "harness.toml"
    if not toml.exists() and not toml.is_symlink():
        root.mkdir(parents=True, exist_ok=True)
        atomic_write(toml, text, root=root)
        return
    flags = {
        key: value
        for key, value in (
            ("name", args.model),
            ("api_base", args.api_base),
            ("api_key_env", args.api_key_env),
        )
        if value
    }
    if not flags or not toml.is_file():
        return
    current = toml.read_text(encoding="utf-8")
    updated = set_table_keys(current, "model", flags)
    if updated != current:
        atomic_write(toml, updated, root=root)
        print(f"harness init: wrote {', '.join(flags)} into [model] of harness.toml")
