"""`harness adopt`: upgrade a quickstart feature list (flat JSON array) in place."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import ExitCode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "adopt",
        help="upgrade the autonomous-coding quickstart's feature_list.json in place",
        description="Make a quickstart project a harness project: the flat-array "
        "feature_list.json gets ids and priorities from array order (every text kept; "
        'passing entries stay passing as "adopted, unverified" until `harness run` '
        "re-verifies them), progress.md starts with claude-progress.txt verbatim, "
        "harness.toml and .gitignore (.harness/) are written when missing, app_spec.txt is "
        "kept, and those protocol files are committed.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from initializer.adopt import adopt_project

    report = adopt_project(Path(args.project).resolve())
    for line in report.lines:
        print(f"harness adopt: {line}")
    print("harness adopt: next: `harness validate`, then `harness run`")
    return int(ExitCode.OK)
