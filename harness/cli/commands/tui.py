"""`harness tui`: the live terminal view of a project; answers questions, approves gates."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import ArtifactError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="watch runs live; answer the agent's questions; approve or deny gated actions",
        description="A terminal app beside long runs: features, sessions, the live step "
        "stream, the runner and an inbox of questions and gated actions. It only reads the "
        "project (and stores answers like `harness answer`); a parked run goes on with "
        "`harness run` (the key r starts one when no run is active).",
    )
    parser.add_argument(  # also accepted after `tui`, as in `harness tui -C DIR`
        "-C", "--project", default=argparse.SUPPRESS, metavar="DIR", help="the project folder"
    )
    parser.add_argument(
        "--poll", type=float, default=1.0, metavar="S", help="poll interval besides file events"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tui.app import HarnessApp

    root = Path(args.project)
    if not root.is_dir():
        raise ArtifactError(root, "-C", "not a folder", "Pass the project folder with -C DIR.")
    app = HarnessApp(root, poll_s=args.poll)
    code = app.run() or 0
    if app.starter.running() and app.starter.process is not None:
        print(
            f"harness tui: `harness run` (pid {app.starter.process.pid}) started from the TUI "
            "goes on; its output is in .harness/tui-run.log"
        )
    return code
