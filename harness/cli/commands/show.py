"""`harness show SESSION:SEQ`: one step with its inputs, output or error."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.cli.reading import NotInJournal, open_reader, pick_run, state_dir
from harness.errors import ArtifactError, ExitCode
from harness.terminal import lines_for_terminal


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "show",
        help="show one step of the journal, or a feature's evidence and proofs",
        description="One step of a run (default: the newest run), e.g. `harness show 2:14`; "
        "or a feature, e.g. `harness show F003`: its evidence, which proofs it holds and the "
        "steps that hold them.",
    )
    parser.add_argument(
        "step", metavar="SESSION:SEQ|FEATURE", help="session and step number, or a feature id"
    )
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
    if ":" not in args.step:
        return _feature(args)
    session, seq = parse_ref(args.step)
    with open_reader(args) as journal:
        run_id = pick_run(journal, args.run, state_dir(args))
        detail = None if run_id is None else journal.step_detail(run_id, session, seq)
    if detail is None:
        raise NotInJournal(f"no step {session}:{seq} in run {run_id}; `harness log` lists them")
    data = detail.as_json()
    if args.json:
        print(json.dumps(data))
        return int(ExitCode.OK)
    lines = [
        f"run {detail.run_id}  session {detail.session}  step {detail.seq}",
        f"{detail.kind}/{detail.name}  status {detail.status}  attempts {detail.attempts}",
    ]
    if detail.duration is not None:
        lines.append(
            f"duration {detail.duration * 1000:.1f} ms  tokens {detail.tokens}  "
            f"cost {detail.cost_usd}  cached {detail.cached}"
        )
    lines += ["", "inputs:", json.dumps(detail.inputs, indent=2, ensure_ascii=False)]
    if detail.error is not None:
        lines += ["", "error:", json.dumps(detail.error, indent=2, ensure_ascii=False)]
    else:
        lines += ["", "output:", json.dumps(detail.output, indent=2, ensure_ascii=False)]
    # The agent's words are in the JSON: C1 controls and bidi overrides survive
    # ensure_ascii=False, so each line is made inert.
    print(lines_for_terminal("\n".join(lines)))
    return int(ExitCode.OK)


def _feature(args: argparse.Namespace) -> int:
    """A feature's evidence: its proofs, each with the step that holds it."""
    from pathlib import Path

    from artifacts.feature_list import load_feature_list
    from harness.terminal import for_terminal

    feature = load_feature_list(Path(args.project).absolute()).get(args.step)
    if feature is None:
        raise ArtifactError(
            "feature_list.json",
            "SESSION:SEQ|FEATURE",
            f"{args.step!r} is neither SESSION:SEQ nor a feature id",
            "Use e.g. 2:14, or an id from `harness status --json`.",
        )
    evidence = feature.evidence
    data: dict[str, Any] = {
        "feature": feature.id,
        "passes": feature.passes,
        "proofs": evidence.proofs() if evidence is not None else [],
        "evidence": evidence.model_dump(mode="json") if evidence is not None else None,
    }
    if args.json:
        print(json.dumps(data))
        return int(ExitCode.OK)
    print(for_terminal(f"{feature.id}: {feature.description}"))
    if evidence is None:
        print("failing: no evidence")
        return int(ExitCode.OK)
    print(f"passing; proofs: {', '.join(data['proofs']) or 'none'}")
    print(f"  check     {evidence.verification} (exit {evidence.exit_code})")
    if evidence.tree:
        print(f"  clean     on a clean checkout of tree {evidence.tree[:12]}, in a fresh sandbox")
    if evidence.before:
        before = evidence.before
        print(f"  before    {before.step}: exit {before.exit_code} on tree {before.tree[:12]}")
    if evidence.review:
        review = evidence.review
        print(f"  evaluator {review.step}: {review.verdict} ({review.model})")
    if evidence.approval:
        print(f"  human     {evidence.approval}")
    print("`harness show SESSION:SEQ` shows a step (the last two numbers of a reference)")
    return int(ExitCode.OK)
