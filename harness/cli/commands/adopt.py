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
        description="Give a flat-array feature list ids and priorities from array order, "
        'keeping every text; passing entries keep passing as "adopted, unverified".',
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from artifacts.adopt import adopt_feature_list

    result = adopt_feature_list(Path(args.project))
    print(result.message)
    return int(ExitCode.OK)
