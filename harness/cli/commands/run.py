"""`harness run`: sessions until done, a budget is spent, or a human is needed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run sessions until every feature passes (resumes an interrupted run)",
        description="Run sessions (wake, orient, work, writeback) until every feature passes, "
        "a budget is spent, or a human is needed. An interrupted run resumes at the step it "
        "died in. Exit codes: 0 complete, 3 budget exhausted, 4 waiting for a human, "
        "5 stuck, 1 failed, 2 invalid input, 6 another process drives the run.",
    )
    parser.add_argument(
        "--unattended",
        action="store_true",
        help="never wait for a human: a question parks the run (always so under CI or "
        "without a terminal)",
    )
    parser.add_argument("--report", metavar="FILE", help="write a JSON run report to FILE")
    parser.add_argument("--model", metavar="NAME", help="override [model] name")
    parser.add_argument("--max-sessions", type=int, metavar="N", help="override run_sessions")
    parser.set_defaults(func=run)


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """Flag overrides shared by run, init and demo."""
    values: dict[str, object] = {}
    if getattr(args, "model", None):
        values["model.name"] = args.model
    if getattr(args, "max_sessions", None) is not None:
        values["budgets.run_sessions"] = args.max_sessions
    return values


def run(args: argparse.Namespace) -> int:
    from escalation.ask import is_unattended
    from harness.config import load_config
    from session.run import run_project

    root = Path(args.project).resolve()
    config = load_config(root, overrides=overrides(args))
    report = run_project(root, config, unattended=is_unattended(args.unattended))
    if args.report:
        report.write(Path(args.report))
    print(
        f"harness run: {report.outcome.replace('_', ' ')}: {report.detail} "
        f"({report.features_passing}/{report.features_total} features passing, "
        f"{len(report.sessions)} session(s), {report.tokens} tokens, ${report.cost_usd:.4f})",
        file=sys.stderr if report.exit_code else sys.stdout,
    )
    return report.exit_code
