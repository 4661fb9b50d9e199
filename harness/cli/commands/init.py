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
    parser.add_argument("--model", metavar="NAME", help="override [model] name")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr (errors only)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.config import load_config
    from initializer.agent import initialize

    root = Path(args.project).resolve()
    config = load_config(root, overrides=overrides(args))
    spec = Path(args.spec).resolve() if args.spec else None
    from harness.cli.live import ProgressLines
    from harness.events import observing

    with observing(*([] if getattr(args, "quiet", False) else [ProgressLines()])):
        report = initialize(root, spec, config)
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
