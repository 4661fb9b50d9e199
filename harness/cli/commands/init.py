"""`harness init`: the initializer agent writes the protocol files and the first commit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.commands.run import overrides


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="initialise a project from a specification (resumes if interrupted)",
        description="The initializer agent reads the spec (and an existing codebase) and writes "
        "feature_list.json (all failing), init.sh, progress.md, harness.toml and .gitignore, "
        "then makes the first commit. On an initialised project it changes nothing.",
    )
    parser.add_argument("--spec", metavar="FILE", help="the specification (e.g. SPEC.md)")
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
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr (errors only)"
    )
    parser.set_defaults(func=run)


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
    from harness.model.litellm_model import no_model_error
    from initializer.agent import initialize

    root = Path(args.project).resolve()
    config = load_config(root, overrides=overrides(args))
    spec = Path(args.spec).resolve() if args.spec else None
    if not config.model.name and not (root / "feature_list.json").exists():
        raise no_model_error()  # before anything is written or paid for (exit 2)
    from harness.cli.live import ProgressLines
    from harness.config import run_scope
    from harness.events import Events

    if not (root / "feature_list.json").exists():
        _write_model_flags(root, args)
    watchers = [] if getattr(args, "quiet", False) else [ProgressLines()]
    scope = run_scope(config, events=Events(*watchers), hooks=args.hooks)
    report = initialize(root, spec, config, config_text=config_text(config.model), scope=scope)
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
    return 0


def _write_model_flags(root: Path, args: argparse.Namespace) -> None:
    """The model flags given to init go into an existing harness.toml too (a new one is
    written from the template with them), so the next `harness run` uses that model."""
    from artifacts.io import atomic_write
    from artifacts.toml_edit import set_table_keys

    toml = root / "harness.toml"
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
    text = toml.read_text(encoding="utf-8")
    updated = set_table_keys(text, "model", flags)
    if updated != text:
        atomic_write(toml, updated, root=root)
        print(f"harness init: wrote {', '.join(flags)} into [model] of harness.toml")
