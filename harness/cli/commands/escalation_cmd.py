"""`harness escalation`: the escalation matrix's weights and threshold in force, what they
rest on, and how they do on the project's record."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode

if TYPE_CHECKING:
    from escalation.report import OnRecord, Summary
    from harness.journal.location import Location


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "escalation",
        help="the escalation matrix: weights, threshold, what they rest on, the record",
        description="Show the escalation matrix's weights and threshold in force (fitted from "
        "the project's record of outcomes, or configured), how many outcomes they rest on, "
        "their recall of should-ask cases and ask rate on the record, the labels of the "
        "record, the policy gates' approvals, and every refit. Reads .harness/escalation.db "
        "and the user's record beside the journal keys; changes nothing.",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run_escalation)


def run_escalation(args: argparse.Namespace) -> int:
    from escalation.record import PROJECT_FILE, Record, user_record_path
    from escalation.report import summarize
    from harness.config import load_config
    from harness.journal.keys import state_home

    root = Path(args.project).absolute()
    config = load_config(root).escalation
    state = root / ".harness"
    if not (state / PROJECT_FILE).is_file():
        print(
            f"harness: no escalation record in {state} yet: no session of this project has "
            "closed with escalation on. `harness run` starts one.",
        )
        return int(ExitCode.OK)
    home = user_record_path(state_home())
    with Record.of_project(state) as record:
        prior = Record(home) if home.is_file() else None
        try:
            summary = summarize(record, prior, config, learn=config.learn)
        finally:
            if prior is not None:
                prior.close()
    from harness.config import journal_location

    samples = sample_cost(journal_location(root))
    if args.json:
        print(json.dumps(summary.model_dump(mode="json") | {"samples": samples}, indent=2))
        return int(ExitCode.OK)
    print(render(summary, config.samples, samples, cap=config.max_questions_per_session))
    return int(ExitCode.OK)


def sample_cost(where: Location | Path) -> dict[str, Any]:
    """Extra model calls made for disagreement samples, with their tokens and dollars."""
    from harness.journal.protocol import journal_exists, open_reader

    calls, tokens, cost = 0, 0, 0.0
    if journal_exists(where):
        with open_reader(where) as journal:
            for step in journal.steps():
                if step.kind == "llm" and step.name.endswith(":sample"):
                    calls += 1
                    tokens += step.tokens or 0
                    cost += step.cost_usd or 0.0
    return {"calls": calls, "tokens": tokens, "cost_usd": round(cost, 6)}


def _rates(found: OnRecord) -> str:
    return f"recall {found.recall:.0%} of {found.should_ask}, asks on {found.ask_rate:.0%}"


def render(summary: Summary, samples: int, cost: dict[str, Any], *, cap: int) -> str:
    """The human-readable summary."""
    p = summary.policy
    w = p.weights
    fit = summary.fit
    if p.source == "fitted" and fit is not None and fit.validated is False:
        where = f"configured: the fit on {p.outcomes} outcomes is not shown better"
    elif p.source == "fitted":
        where = f"fitted on {p.outcomes} outcomes"
    elif not summary.learn:
        where = "configured ([escalation] learn = false)"
    else:
        why = summary.fit.why if summary.fit else "no fit yet"
        where = f"configured ({why})"
    lines = [
        f"weights    uncertainty {w[0]:.3f}  novelty {w[1]:.3f}  benefit {w[2]:.3f}  ({where})",
        f"threshold  {p.threshold:.3f}   target: {summary.target}",
    ]
    if fit is not None and fit.fitted:
        lines.append(
            f"fit        {fit.outcomes} outcomes here + {fit.prior_outcomes} from "
            f"{fit.prior_projects} other projects (weight {fit.prior_weight:.2f} each); "
            f"target {'met' if fit.reached else 'NOT met'} on the record: recall "
            f"{fit.recall:.0%}, ask rate {fit.ask_rate:.0%} "
            f"({fit.questions_per_session:.1f} questions per session; the cap asks at most "
            f"{cap})"
        )
    if fit is not None and fit.check:
        kept = "in force" if fit.validated else "not in force (configured weights kept)"
        lines.append(f"check      fitted weights {kept}: {fit.check}")
    r = summary.on_record
    lines.append(f"record     {r.outcomes} decisions: in force {_rates(r)}; configured "
                 f"{_rates(summary.configured_on_record)}")  # fmt: skip
    labels = summary.labels
    if labels:
        lines.append(
            f"outcomes   asked {labels.get('asked', 0)} (answer mattered "
            f"{labels.get('answer_mattered', 0)}); not asked {labels.get('not_asked', 0)}, "
            f"should have: undone {labels.get('undone', 0)}, check failed "
            f"{labels.get('check_failed', 0)}, later answer {labels.get('later_answer', 0)}, "
            f"shown by a later session {labels.get('later_session', 0)}; "
            f"hedge alone (unattended) {labels.get('hedge_only', 0)}, capped "
            f"{labels.get('capped', 0)}"
        )
    for gate, counts in sorted(summary.gates.items()):
        lines.append(
            f"gate       {gate}: {counts['asked']} asked, {counts['approved']} approved, "
            f"{counts['denied']} denied"
        )
    lines.append(
        f"prior      {summary.user_outcomes} outcomes of {summary.user_projects} other "
        "projects in the user's record"
    )
    extra = f"{samples} per scored turn ({samples - 1} extra model calls each)"
    lines.append(
        f"samples    {extra if samples > 1 else 'off'}; spent so far: {cost['calls']} calls, "
        f"{cost['tokens']} tokens, ${cost['cost_usd']:.4f}"
    )
    lines.append(f"refits     {len(summary.changes)} kept")
    for change in summary.changes[-5:]:
        cw = change["weights"]
        lines.append(
            f"  {change['at'][:19]}  {change['key']}: {cw[0]:.3f}/{cw[1]:.3f}/{cw[2]:.3f} "
            f"threshold {change['threshold']:.3f} on {change['outcomes']} outcomes"
        )
    return "\n".join(lines)
