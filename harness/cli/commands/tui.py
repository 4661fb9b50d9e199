"""`harness tui`: the live terminal view of a project (or, with --fleet, of a fleet's runs);
answers questions, approves gates."""

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
        "`harness run` (the key r starts one when no run is active). With --fleet: every "
        "run of the fleet and one inbox of all its parked runs' questions (answered as "
        "`harness fleet answer` does: the run goes on on a free worker).",
    )
    parser.add_argument(  # also accepted after `tui`, as in `harness tui -C DIR`
        "-C", "--project", default=argparse.SUPPRESS, metavar="DIR", help="the project folder"
    )
    parser.add_argument(
        "--poll", type=float, default=1.0, metavar="S", help="poll interval besides file events"
    )
    parser.add_argument(
        "--fleet",
        action="store_true",
        help="show the fleet (--url, HARNESS_FLEET_URL, else the embedded one), not a project",
    )
    parser.add_argument(
        "--url",
        default=None,
        metavar="URL",
        help="with --fleet: the fleet's PostgreSQL URL (default: HARNESS_FLEET_URL, else the "
        "embedded fleet)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.fleet:
        return run_fleet(args)
    if args.url is not None:
        from fleet.place import FleetError

        raise FleetError("--url URL names a fleet: add --fleet (`harness tui --fleet --url URL`)")
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


def run_fleet(args: argparse.Namespace) -> int:
    """The fleet's view: its database reached before the screen is taken, so a bad URL or
    a database that does not answer is said on the terminal (exit 2 or 4)."""
    from tui.fleet_app import FleetApp
    from tui.fleet_data import open_fleet

    source = open_fleet(args.url)
    try:
        return FleetApp(source, poll_s=args.poll).run() or 0
    finally:
        source.close()  # after the replies in flight: an answer given before q is stored
