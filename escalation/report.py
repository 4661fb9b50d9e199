"""What `harness escalation` shows: the weights and threshold in force, what they rest on,
how they do on the project's record, and what the record holds."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from escalation.fit import Fit, FitSettings, Policy, describe_target, policy_of
from escalation.outcomes import Outcome
from escalation.record import Record


class OnRecord(BaseModel):
    """How a policy does on the project's own outcomes (the matrix's, gates aside)."""

    outcomes: int = 0
    should_ask: int = 0
    recall: float = 0.0
    """Share of should-ask outcomes whose scores are above the threshold."""
    ask_rate: float = 0.0
    """Share of decisions it would ask on."""


class Summary(BaseModel):
    """The project's escalation record at a glance."""

    project: str
    policy: Policy
    fit: Fit | None = None
    """The newest fit (None before the first)."""
    target: str
    learn: bool
    on_record: OnRecord
    configured_on_record: OnRecord
    """The configured weights and threshold on the same outcomes (what learning changed)."""
    labels: dict[str, int] = Field(default_factory=dict)
    """Counts: asked, answers that mattered, not asked, and why those should have asked."""
    gates: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Per gate: approvals asked, approved, denied."""
    changes: list[dict[str, Any]] = Field(default_factory=list)
    """Every fit kept: key (the journal step), time, weights, threshold, outcomes."""
    user_outcomes: int = 0
    """Outcomes of the user's other projects (the prior)."""
    user_projects: int = 0


def on_record(outcomes: list[Outcome], policy: Policy) -> OnRecord:
    matrix = [o for o in outcomes if o.source != "gate"]
    w, t = policy.weights, policy.threshold
    asks = [w[0] * o.uncertainty + w[1] * o.novelty + w[2] * o.benefit > t for o in matrix]
    should = sum(o.should_ask for o in matrix)
    caught = sum(a and o.should_ask for a, o in zip(asks, matrix, strict=True))
    return OnRecord(
        outcomes=len(matrix),
        should_ask=should,
        recall=caught / should if should else 0.0,
        ask_rate=sum(asks) / len(matrix) if matrix else 0.0,
    )


def summarize(
    record: Record, prior: Record | None, settings: FitSettings, *, learn: bool
) -> Summary:
    """The summary of ``record`` (the project's) with ``prior`` (the user's)."""
    project = record.project_id()
    fits = record.fits(project)
    newest = fits[-1] if fits else None
    policy = policy_of(newest if learn else None, settings)
    configured = policy_of(None, settings)
    outcomes = record.outcomes(project)
    labels: Counter[str] = Counter()
    gates: dict[str, dict[str, int]] = {}
    for o in outcomes:
        if o.source == "gate":
            gate = gates.setdefault(o.topic, {"asked": 0, "approved": 0, "denied": 0})
            gate["asked"] += 1
            gate["approved" if o.human_agreed else "denied"] += 1
            continue
        labels["decisions"] += 1
        labels["should_ask"] += o.should_ask
        if o.asked:
            labels["asked"] += 1
            labels["answer_mattered"] += o.should_ask
        else:
            labels["not_asked"] += 1
            labels["undone"] += bool(o.undone)
            labels["check_failed"] += bool(o.check_failed)
            labels["later_answer"] += bool(o.later_answer)
            labels["later_session"] += o.relabeled is not None
            labels["hedge_only"] += o.hedge_only
            labels["capped"] += o.capped
    user_outcomes = user_projects = 0
    if prior is not None:
        last = prior.last_id()
        user_outcomes = sum(c.total for c in prior.cells(up_to=last, other_than=project))
        user_projects = prior.projects(up_to=last, other_than=project)
    changes = [
        {
            "key": f["key"],
            "at": f["created_at"],
            "weights": f["weights"],
            "threshold": f["threshold"],
            "outcomes": f["outcomes"] + f["prior_outcomes"],
        }
        for f in fits
    ]
    return Summary(
        project=project,
        policy=policy,
        fit=Fit.model_validate(newest) if newest else None,
        target=describe_target(settings),
        learn=learn,
        on_record=on_record(outcomes, policy),
        configured_on_record=on_record(outcomes, configured),
        labels=dict(labels),
        gates=gates,
        changes=changes,
        user_outcomes=user_outcomes,
        user_projects=user_projects,
    )
