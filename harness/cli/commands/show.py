"""`harness show SESSION:SEQ`: one step with its inputs, output or error."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.cli.commands.log import open_reader, pick_run, state_dir
from harness.errors import ArtifactError, ExitCode, JournalError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "show",
        help="show one step of the journal: inputs, output or error",
        description="One step of a run (default: the newest run), e.g. `harness show 2:14`.",
    )
    parser.add_argument("step", metavar="SESSION:SEQ", help="session number and step number")
    parser.add_argument("--run", metavar="ID", help="the run (default: the newest)")
    parser.add_argument("--json", action="store_true", help="print the step as one JSON object")
    parser.set_defaults(func=run)


def parse_ref(text: str) -> tuple[int, int]:
    """``"2:14"`` → (2, 14); also accepts ``journal:<run>/<session>/<seq>`` tails."""
    session, sep, seq = text.partition(":")
    if not sep or not session.strip().isdigit() or not seq.strip().isdigit():
        raise ArtifactError(
            "command line", "SESSION:SEQ", f"{text!r} is not SESSION:SEQ", "Use e.g. 2:14."
        )
    return int(session), int(seq)


def run(args: argparse.Namespace) -> int:
    session, seq = parse_ref(args.step)
    with open_reader(args) as journal:
        run_id = pick_run(journal, args.run, state_dir(args))
        detail = None if run_id is None else journal.step_detail(run_id, session, seq)
    if detail is None:
        raise JournalError(f"no step {session}:{seq} in run {run_id}; `harness log` lists them")
    data = detail.model_dump(mode="json")
    if args.json:
        print(json.dumps(data))
        return int(ExitCode.OK)
    print(f"run {detail.run_id}  session {detail.session}  step {detail.seq}")
    print(f"{detail.kind}/{detail.name}  status {detail.status}  attempts {detail.attempts}")
    if detail.duration is not None:
        print(f"duration {detail.duration * 1000:.1f} ms  tokens {detail.tokens}  ", end="")
        print(f"cost {detail.cost_usd}  cached {detail.cached}")
    print("\ninputs:")
    print(json.dumps(detail.inputs, indent=2, ensure_ascii=False))
    if detail.error is not None:
        print("\nerror:")
        print(json.dumps(detail.error, indent=2, ensure_ascii=False))
    else:
        print("\noutput:")
        print(json.dumps(detail.output, indent=2, ensure_ascii=False))
    return int(ExitCode.OK)
