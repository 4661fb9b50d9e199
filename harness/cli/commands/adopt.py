"""`harness adopt`: upgrade a quickstart feature list (flat JSON array) in place."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "adopt",
        help="make a project of the autonomous-coding quickstart a harness project",
        description="Upgrade the quickstart's feature_list.json in place (a flat array, or "
        "one wrapped in an object): every key of every entry is kept (keys harness does not "
        "own go under the feature's extra), the project's own ids and priorities are used "
        'when every entry has a sane one; passing entries stay passing as "adopted, '
        'unverified" until `harness run` re-verifies them. progress.md starts with '
        "claude-progress.txt (any encoding; each difference from its bytes is said), "
        "harness.toml, a minimal init.sh and the .gitignore lines (.harness/, build and cache "
        "output) are written when missing, and harness's own files are committed (never your "
        "uncommitted edits). Checks everything before writing anything: a list it cannot "
        "adopt is refused with every problem named.",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr (errors only)"
    )
    parser.set_defaults(
        func=run,
        again="`harness adopt` again finishes what this one started (it checks before it "
        "writes, writes the feature list last, then commits).",
    )


def run(args: argparse.Namespace) -> int:
    from harness.cli.live import ProgressLines
    from harness.events import Events
    from initializer.adopt import adopt_project

    # What git needed on the way (a repository made again, a file left out of the
    # commit, a stale lock cleared) is a notice: a progress line, nothing with --quiet.
    events = Events(*([] if args.quiet else [ProgressLines()]))
    report = adopt_project(Path(args.project).resolve(), say=events.notice)
    for line in report.lines:
        print(f"harness adopt: {line}")
    print("harness adopt: next: `harness validate`, then `harness run`")
    return int(ExitCode.OK)
