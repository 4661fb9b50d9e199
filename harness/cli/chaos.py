"""`python -m harness.cli.chaos [--at-step N] [--in KIND:NAME[#K]] -- HARNESS-ARGS...`

`harness` with a crash switch (:mod:`session.chaos`): the process SIGKILLs itself inside
the chosen live step, for the demo's crash and the crash tests. The switch is a value
this process gives the run (``harness.cli.main(argv, hooks=...)``); `harness` itself
reads no crash switch from anywhere, so nothing in a user's shell can kill their run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.scope import ModelMaker


def main(argv: Sequence[str] | None = None, *, models: ModelMaker | None = None) -> int:
    """Parse the switch, then `harness` with it (and ``models``, ``harness.cli.main``'s)."""
    from harness.cli import main as harness
    from session.chaos import CrashSwitch

    parser = argparse.ArgumentParser(
        prog="python -m harness.cli.chaos",
        description="Run `harness` with a crash switch (for the demo and the crash tests).",
    )
    parser.add_argument("--at-step", type=int, metavar="N", help="die in live tool call N")
    parser.add_argument(
        "--in", dest="at", metavar="KIND:NAME[#K]", help="die in the K-th live step KIND:NAME"
    )
    parser.add_argument("harness_args", nargs=argparse.REMAINDER, help="after --: harness's")
    args = parser.parse_args(argv)
    rest = list(args.harness_args)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    found, _ = _project_parser().parse_known_args(rest)
    switch = CrashSwitch(Path(found.project).resolve() / ".harness", args.at_step, args.at)
    return harness(rest, hooks=switch, models=models)


def _project_parser() -> argparse.ArgumentParser:
    """Only harness's ``-C DIR``: where the switch keeps its marker (``.harness/``)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-C", "--project", default=".")
    return parser


if __name__ == "__main__":
    sys.exit(main())
