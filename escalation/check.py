"""The held-out check of a fit (``escalation.fit``): do fitted weights rank the record's
should-ask outcomes better than the configured weights, on outcomes they were not fitted on?

Each fold holds some outcomes out; weights fitted on the rest (and the prior) and the
configured weights each ask on as many held-out outcomes as the new policy would, and the
should-ask outcomes only one of them catches are counted. Summed over the folds, the fitted
ranking must catch more by a one-sided sign test at ``SURE`` standard deviations: under "no
better", each such outcome is as likely to be caught by either. Pure functions of the
cells, summed in a fixed order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from escalation.logistic import Row, logistic, rows_of
from escalation.record import Cell

SURE = 1.645
"""Standard deviations by which the fitted ranking must win the held-out check (one-sided
5%)."""


@dataclass(frozen=True)
class Check:
    """Outcomes to test the fitted weights on (module docstring): each fold is (held, train),
    the outcomes held out and those the check's weights are fitted on, with ``prior`` (the
    user's other projects', weighted as in the fit)."""

    folds: Sequence[tuple[Sequence[Cell], Sequence[Cell]]]
    prior: Sequence[Cell] = ()


def validate(
    check: Check,
    weights: Sequence[float],
    threshold: float,
    configured: Sequence[float],
    min_outcomes: int,
    min_each: float,
    prior_weight: float,
) -> tuple[float | None, str]:
    """By how many standard deviations weights fitted without each fold's held-out outcomes
    catch more of their should-ask cases than the configured weights (fewer: negative),
    both asking on as many of them as ``weights`` and ``threshold`` do, summed over the
    folds (``escalation.fit``); None when the record is too small to tell; and what was
    found, in words."""
    only_ours = only_theirs = count = size = 0.0
    for held_cells, train_cells in check.folds:
        held = rows_of(held_cells, 1.0)
        train = rows_of(train_cells, 1.0) + rows_of(check.prior, prior_weight)
        total = sum(r.total for r in train)
        positives = sum(r.positives for r in train)
        if total < min_outcomes or positives < min_each or total - positives < min_each:
            return None, (
                f"too few outcomes to test a fit on ({total:g} to fit on, "
                f"{sum(r.total for r in held):g} held out)"
            )
        beta, _ = logistic(train)
        strength = sum(beta[1:])
        fitted = [a / strength for a in beta[1:]] if strength > 1e-9 else configured
        asked = count_asked(held, weights, threshold)
        ours = _chosen(held, fitted, asked)
        theirs = _chosen(held, configured, asked)
        for r, a, b in zip(held, ours, theirs, strict=True):
            only_ours += r.positives * max(0.0, a - b)
            only_theirs += r.positives * max(0.0, b - a)
        count += asked
        size += sum(r.total for r in held)
    margin = only_ours - only_theirs
    spread = math.sqrt(only_ours + only_theirs)
    z = margin / spread if spread else 0.0
    said = (
        f"asking on {count:g} of {size:g} held-out outcomes, weights fitted without them "
        f"catch {margin:+.4g} should-ask outcomes against the configured ({only_ours:.4g} only "
        f"they catch, {only_theirs:.4g} only the configured: {z:+.2f} standard deviations)"
    )
    return z, said


def count_asked(rows: Sequence[Row], weights: Sequence[float], threshold: float) -> float:
    """How many outcomes of ``rows`` ``weights`` and ``threshold`` ask on."""
    return sum(r.total for s, r in _each(rows, weights) if s > threshold)


def _each(rows: Sequence[Row], weights: Sequence[float]) -> list[tuple[float, Row]]:
    return [(round(sum(w * x for w, x in zip(weights, r.x, strict=True)), 9), r) for r in rows]


def _chosen(rows: Sequence[Row], weights: Sequence[float], count: float) -> list[float]:
    """The share of each row's outcomes among the ``count`` highest-scored (a score shared
    by more outcomes than are left is taken in part, the same share of each)."""
    scored = _each(rows, weights)
    by_score: dict[float, float] = {}
    for score, row in scored:
        by_score[score] = by_score.get(score, 0.0) + row.total
    share, left = {}, count
    for score in sorted(by_score, reverse=True):
        take = min(by_score[score], max(0.0, left))
        share[score] = take / by_score[score] if by_score[score] else 0.0
        left -= take
    return [share[score] for score, _ in scored]
