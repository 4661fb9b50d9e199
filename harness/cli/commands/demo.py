"""`harness demo [DIR]`: the offline demo of the whole pipeline."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    from harness.cli import JOURNALED

    parser = subparsers.add_parser(
        "demo",
        help="build a sample project from its spec to all-passing, offline",
        description="Create a sample project (a Python CLI tool with 8 features checked by "
        "real pytest tests) and run `harness init` and `harness run` on it with a scripted "
        "model: real tools, real checks, a 429 storm, a malformed tool call and one crash "
        "with resume. Run again on the same DIR to continue an interrupted demo.",
    )
    parser.add_argument("dir", nargs="?", help="where to create it (default: a new temp folder)")
    parser.add_argument("--ask", action="store_true", help="the agent asks a human one question")
    parser.add_argument(
        "--unattended", action="store_true", help="park instead of waiting for the answer"
    )
    parser.add_argument("--no-crash", action="store_true", help="skip the crash and resume")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="scripted model latency per call"
    )
    parser.set_defaults(func=run, again=JOURNALED)


def run(args: argparse.Namespace) -> int:
    from harness.cli.demo import DemoOptions, run_demo

    target = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="harness-demo-"))
    options = DemoOptions(
        ask=args.ask, unattended=args.unattended, crash=not args.no_crash, latency_s=args.latency
    )
    return run_demo(target, options)
