"""Weights and threshold fitted from outcomes: a small logistic regression, no dependency.

Model: P(should ask | u, n, b) = σ(c + a_u·u + a_n·n + a_b·b) with a >= 0, fitted by
Newton's method (iteratively reweighted least squares) on the outcomes grouped in cells
(``record.Cell``), with an L2 penalty ``RIDGE`` on a (not on c) so that a record that
separates perfectly still has one answer. A signal that comes out with a negative
coefficient (it predicts *not* needing a human) is pinned at 0 and the rest refitted: the
matrix's score stays a weighted sum of doubts, ``w = a / sum(a)``, in [0, 1].

Data: this project's outcomes count 1 each; the user's other projects' outcomes are the
prior, counted together as at most ``PRIOR_OUTCOMES`` outcomes (each weighs
``min(1, PRIOR_OUTCOMES / n_other)``). A new project starts from the user's record and
moves to its own as outcomes accrue.

Threshold: chosen toward the target on the project's newest ``THRESHOLD_WINDOW`` outcomes,
on their exact scores as the matrix decides on them, not on the cells the weights are fitted
on (on the whole weighted record while it has fewer than ``min_outcomes``): the highest
threshold that catches ``target_recall`` of their should-ask outcomes, raised (never
lowered) when a question budget per session is set and that threshold would ask more. The
newest, because the scores drift: novelty falls as the project's history grows, so a
threshold fitted on the scores of a year ago would ask less and less today.

Until the record holds ``min_outcomes`` outcomes, ``MIN_EACH`` of each label, nothing is
fitted and the configured weights and threshold (equal weights by default) stay in force.

Held-out check (``escalation.check``; ``learn.refit`` always makes one). The record is cut
in two halves (outcomes of even and odd id); on each, weights fitted on the other half alone
and the configured weights each ask on as many of its outcomes as the new policy would, and
the should-ask outcomes only one of them catches are counted: the fitted weights' advantage
in standard deviations of a sign test. Which weights are put in force depends on whether
the configured policy already meets the target on the record, within ``NOISE`` standard
deviations of its sampling error (``meets_target``: of the budget's count of questions when
the budget allows fewer than the recall target needs, else of the share of should-ask
outcomes caught):

- it does: the default stays (weights and threshold) unless the fitted weights are shown
  better, by ``SURE`` standard deviations; those then ask on exactly as many of the newest
  outcomes as the default does, so they catch more at the default's rate instead of chasing
  the noise of a rate estimated on a few hundred outcomes. A record of noise, or one too
  small to tell, never puts worse weights in force than a default that does the job;
- it does not: the policy must move toward the target anyway; the fitted weights are used
  unless they caught fewer held-out should-ask outcomes than the configured ones (then the
  configured weights, with the threshold toward the target).

Labels favour the policy that was in force (what it asked got an answer; what it did not
ask is labelled only when a later sign shows it), so the check leans toward the incumbent:
one more reason to demand significance only where the default is an acceptable answer.

Everything is a pure function of the cells, summed in a fixed order: the same record
gives the same floats, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from escalation.check import SURE, Check, count_asked, validate
from escalation.logistic import Hook, Row, logistic, rows_of
from escalation.record import Cell

PRIOR_OUTCOMES = 50.0
THRESHOLD_WINDOW = 300
MIN_EACH = 3.0
NOISE = 2.0
"""Standard deviations of a count within which the configured threshold meets the target: a
rate estimated on the newest few hundred outcomes is off the rate on new decisions by about
that much at a few questions per 100 (measured by bench/escalation_curve.py: 1-2 per 100)."""


class Weighted(Protocol):
    """The configured weights and threshold (``artifacts.config.EscalationConfig``)."""

    @property
    def w_uncertainty(self) -> float: ...
    @property
    def w_novelty(self) -> float: ...
    @property
    def w_benefit(self) -> float: ...
    @property
    def threshold(self) -> float: ...


class FitSettings(Weighted, Protocol):
    """What the fit reads of ``artifacts.config.EscalationConfig``."""

    @property
    def target_recall(self) -> float: ...
    @property
    def target_questions_per_session(self) -> float | None: ...
    @property
    def min_outcomes(self) -> int: ...


class Fit(BaseModel):
    """Weights and threshold fitted on a record, and how they do on it."""

    fitted: bool
    """False: not enough outcomes yet; the configured weights and threshold stay."""
    weights: tuple[float, float, float]
    threshold: float
    outcomes: int
    """This project's outcomes the fit rests on."""
    prior_outcomes: int = 0
    """The user's other projects' outcomes it rests on (counted as ``prior_weight`` each)."""
    prior_projects: int = 0
    prior_weight: float = 0.0
    should_ask: float = 0.0
    """Weighted should-ask outcomes in the data."""
    coefficients: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """(c, a_u, a_n, a_b) of the logistic model."""
    iterations: int = 0
    recall: float = 0.0
    """Share of the should-ask outcomes the fitted weights and threshold catch (on the
    outcomes the threshold was chosen on: the newest, or the whole record)."""
    ask_rate: float = 0.0
    """Share of decisions they ask on (the same outcomes)."""
    questions_per_session: float = 0.0
    baseline_recall: float = 0.0
    """The same for the configured weights and threshold, on the same record."""
    baseline_ask_rate: float = 0.0
    target: str = ""
    reached: bool = False
    """The target is met on the record."""
    why: str = ""
    digest: str = ""
    """Of the cells the fit read: equal digests, equal data."""
    validated: bool | None = None
    """The held-out check put the fitted weights in force (False: the configured weights
    stayed; None: no check was asked for)."""
    check: str = ""
    """What the held-out check found, in words."""
    advantage: float | None = None
    """By how many standard deviations the fitted weights caught more on held-out outcomes
    than the configured ones (negative: fewer; None: too few outcomes to tell)."""


class Policy(BaseModel):
    """The weights and threshold in force, and where they come from."""

    weights: tuple[float, float, float]
    threshold: float
    source: Literal["config", "fitted"] = "config"
    outcomes: int = 0
    """How many outcomes (this project's and the prior's) a fitted policy rests on."""


def policy_of(found: dict[str, Any] | None, settings: Weighted) -> Policy:
    """The policy a stored fit puts in force; the configured one without a fitted fit."""
    if found is not None:
        stored = Fit.model_validate(found)
        if stored.fitted:
            rests_on = stored.outcomes + stored.prior_outcomes
            return Policy(
                weights=stored.weights, threshold=stored.threshold, source="fitted",
                outcomes=rests_on,
            )  # fmt: skip
    weights = (settings.w_uncertainty, settings.w_novelty, settings.w_benefit)
    return Policy(weights=weights, threshold=settings.threshold)


def fit(
    own: Sequence[Cell],
    other: Sequence[Cell],
    settings: FitSettings,
    *,
    sessions: int,
    recent: Sequence[Cell] = (),
    prior_projects: int = 0,
    check: Check | None = None,
    hook: Hook | None = None,
) -> Fit:
    """Fit weights and threshold on this project's cells and the prior's (module docstring).

    Args:
        own: this project's outcomes, grouped (``Record.cells``).
        other: the user's other projects' outcomes, grouped.
        recent: this project's newest ``THRESHOLD_WINDOW`` outcomes, grouped by their exact
            scores: the threshold is chosen on them when they are ``min_outcomes`` or more.
        settings: the configured weights, threshold and target.
        sessions: how many sessions the data (own and prior) comes from, for a budget of
            questions per session.
        check: outcomes held out to test the fitted weights on (None: no check; the fitted
            weights are in force whatever they are worth).
        hook: called after every Newton iteration (tests kill the process there).
    """
    n_own = sum(c.total for c in own)
    n_other = sum(c.total for c in other)
    prior_weight = min(1.0, PRIOR_OUTCOMES / n_other) if n_other else 0.0
    rows = rows_of(own, 1.0) + rows_of(other, prior_weight)
    total = sum(r.total for r in rows)
    positives = sum(r.positives for r in rows)
    configured = (settings.w_uncertainty, settings.w_novelty, settings.w_benefit)
    base = Fit(
        fitted=False,
        weights=configured,
        threshold=settings.threshold,
        outcomes=n_own,
        prior_outcomes=n_other,
        prior_projects=prior_projects,
        prior_weight=prior_weight,
        should_ask=positives,
        target=describe_target(settings),
        digest=_digest(own, other),
    )
    if total < settings.min_outcomes or positives < MIN_EACH or total - positives < MIN_EACH:
        need = f"{settings.min_outcomes} outcomes, {MIN_EACH:g} of each label"
        have = f"{total:g} ({positives:g} should have asked)"
        return base.model_copy(update={"why": f"not enough outcomes yet: {have} of {need}"})
    beta, iterations = logistic(rows, hook=hook)
    strength = sum(beta[1:])
    weights = tuple(a / strength for a in beta[1:]) if strength > 1e-9 else configured
    per_session = (n_own + n_other) / max(1, sessions)
    rate = _budget_rate(settings, per_session)
    judged = rows
    if sum(c.total for c in recent) >= settings.min_outcomes:
        judged = rows_of(recent, 1.0)
    # the configured policy meets the target within the record's sampling error: keep its
    # threshold for its weights, and ask as often as it does with fitted ones
    by_target = choose_threshold(judged, configured, settings.target_recall, rate)
    as_configured = count_asked(judged, configured, settings.threshold)
    met = meets_target(judged, configured, settings, rate)
    if met and weights == configured:
        threshold = settings.threshold
    elif met:
        threshold = at_count(judged, weights, as_configured)
    else:
        threshold = choose_threshold(judged, weights, settings.target_recall, rate)
    why = "fitted" if strength > 1e-9 else "no signal predicts the label: configured weights kept"
    validated, said, advantage = None, "", None
    if check is not None:
        z, said = validate(
            check, weights, threshold, configured, settings.min_outcomes, MIN_EACH, prior_weight
        )
        # the default meets the target: it stays unless the fit is shown better; it misses
        # it: the policy must move, with the weights that did better on held-out outcomes
        validated = (z is not None and z >= SURE) if met else (z is None or z >= 0.0)
        advantage = z
        if not validated:
            weights = configured
            threshold = settings.threshold if met else by_target
            need = f"better by {SURE:g} standard deviations" if met else "as good"
            why = f"configured weights kept (fitted ones not shown {need}): {said}"
    recall, ask_rate = performance(judged, weights, threshold)
    base_recall, base_rate = performance(judged, configured, settings.threshold)
    reached = recall + 1e-9 >= settings.target_recall and (rate is None or ask_rate <= rate + 1e-9)
    return base.model_copy(
        update={
            "fitted": True,
            "weights": weights,
            "threshold": threshold,
            "validated": validated,
            "check": said,
            "advantage": advantage,
            "coefficients": tuple(beta),
            "iterations": iterations,
            "recall": recall,
            "ask_rate": ask_rate,
            "questions_per_session": ask_rate * per_session,
            "baseline_recall": base_recall,
            "baseline_ask_rate": base_rate,
            "reached": reached,
            "why": why,
        }
    )


def describe_target(settings: FitSettings) -> str:
    text = f"catch {settings.target_recall:.0%} of should-ask cases"
    budget = settings.target_questions_per_session
    if budget is not None:
        text += f", at most {budget:g} questions per session"
    return text


def _budget_rate(settings: FitSettings, per_session: float) -> float | None:
    """The share of decisions the question budget per session allows (None: no budget)."""
    budget = settings.target_questions_per_session
    if budget is None:
        return None
    return min(1.0, budget / per_session) if per_session else 1.0


def _scored(rows: Sequence[Row], weights: Sequence[float]) -> list[tuple[float, float, float]]:
    """(score, positives, total) per distinct score, highest first."""
    merged: dict[float, list[float]] = {}
    for row in rows:
        score = round(sum(w * x for w, x in zip(weights, row.x, strict=True)), 9)
        cell = merged.setdefault(score, [0.0, 0.0])
        cell[0] += row.positives
        cell[1] += row.total
    return [(s, p, t) for s, (p, t) in sorted(merged.items(), reverse=True)]


def choose_threshold(
    rows: Sequence[Row], weights: Sequence[float], target_recall: float, max_rate: float | None
) -> float:
    """The threshold on ``weights``' scores that meets the target on ``rows`` (a decision
    asks when its score is above it): the highest that catches ``target_recall`` of the
    should-ask outcomes, raised to keep the ask rate at or under ``max_rate``."""
    scored = _scored(rows, weights)
    positives = sum(p for _, p, _ in scored)
    total = sum(t for _, _, t in scored)
    cuts = [
        (scored[i][0] + scored[i + 1][0]) / 2
        if i + 1 < len(scored)
        else max(0.0, scored[i][0] - 0.01)
        for i in range(len(scored))
    ]
    by_recall = cuts[-1] if cuts else 0.0
    caught = 0.0
    for i, (_, p, _) in enumerate(scored):
        caught += p
        if positives and caught / positives + 1e-12 >= target_recall:
            by_recall = cuts[i]
            break
    if max_rate is None:
        return by_recall
    by_budget = scored[0][0] if scored else 1.0
    asked = 0.0
    for i, (_, _, t) in enumerate(scored):
        asked += t
        if asked / total > max_rate + 1e-12:
            break
        by_budget = cuts[i]
    return max(by_recall, by_budget)


def meets_target(
    rows: Sequence[Row], configured: Sequence[float], settings: FitSettings, rate: float | None
) -> bool:
    """Whether the configured policy meets the target on ``rows`` within ``NOISE`` standard
    deviations: the record cannot tell it from a policy that meets it.

    - A budget that allows fewer questions than catching ``target_recall`` needs: the
      configured policy asks on as many of ``rows`` as the budget allows, within NOISE
      square roots of that count.
    - Else the recall target: the configured policy catches ``target_recall`` of the
      should-ask outcomes within NOISE binomial standard deviations of that share, and asks
      no more than the count that catches it by more than NOISE square roots of the count
      (a small record's count is too rough to tell a default that catches half the
      should-ask cases from one that catches all of them: the share is judged instead)."""
    recall_threshold = choose_threshold(rows, configured, settings.target_recall, None)
    wanted = count_asked(rows, configured, recall_threshold)
    asked = count_asked(rows, configured, settings.threshold)
    if rate is not None and rate * sum(r.total for r in rows) < wanted:
        allowed = rate * sum(r.total for r in rows)
        return abs(asked - allowed) <= NOISE * math.sqrt(max(1.0, allowed))
    target = settings.target_recall
    recall, _ = performance(rows, configured, settings.threshold)
    positives = max(1.0, sum(r.positives for r in rows))
    short = target - recall <= NOISE * math.sqrt(target * (1 - target) / positives)
    return short and asked - wanted <= NOISE * math.sqrt(max(1.0, wanted))


def at_count(rows: Sequence[Row], weights: Sequence[float], count: float) -> float:
    """The threshold on ``weights``' scores that asks on the number of ``rows``' outcomes
    nearest to ``count`` (the higher threshold of two as near)."""
    scored = _scored(rows, weights)
    if not scored:
        return 1.0
    best, threshold, asked = count, scored[0][0], 0.0
    for i, (score, _, total) in enumerate(scored):
        asked += total
        if abs(asked - count) < best - 1e-12:
            best = abs(asked - count)
            threshold = (score + scored[i + 1][0]) / 2 if i + 1 < len(scored) else score - 0.01
    return max(0.0, threshold)


def performance(
    rows: Sequence[Row], weights: Sequence[float], threshold: float
) -> tuple[float, float]:
    """(recall of should-ask, ask rate) of ``weights`` and ``threshold`` on ``rows``."""
    positives = total = caught = asked = 0.0
    for row in rows:
        ask = sum(w * x for w, x in zip(weights, row.x, strict=True)) > threshold
        positives += row.positives
        total += row.total
        if ask:
            caught += row.positives
            asked += row.total
    return (caught / positives if positives else 0.0, asked / total if total else 0.0)


def _digest(own: Sequence[Cell], other: Sequence[Cell]) -> str:
    payload = json.dumps(
        [[list(c.__dict__.values()) for c in own], [list(c.__dict__.values()) for c in other]]
    )
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()[:32]
