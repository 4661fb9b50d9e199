"""The fit: it finds the signal that predicts the label, keeps weights non-negative, meets
its target on the record, leans on the prior only as far as it should, and is exact."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from artifacts.config import EscalationConfig
from escalation.fit import fit, performance
from escalation.logistic import RIDGE, logistic, rows_of, solve
from escalation.record import Cell


@dataclass
class Mix:
    """How the label depends on (u, n, b) in a synthetic record."""

    w: tuple[float, float, float]
    bias: float


def cells(seed: int, count: int, mix: Mix) -> list[Cell]:
    """``count`` outcomes whose label is drawn from a logistic model of (u, n, b)."""
    rng = random.Random(seed)
    grouped: dict[tuple[float, float, float], list[int]] = {}
    for _ in range(count):
        x = (round(rng.random(), 1), round(rng.random(), 1), round(rng.random(), 1))
        z = mix.bias + sum(w * v for w, v in zip(mix.w, x, strict=True))
        label = rng.random() < 1 / (1 + math.exp(-z))
        cell = grouped.setdefault(x, [0, 0])
        cell[0] += label
        cell[1] += 1
    return [Cell(*x, p, t) for x, (p, t) in sorted(grouped.items())]


U_ONLY = Mix((8.0, 0.0, 0.0), -5.0)


def test_the_fit_finds_the_signal_that_predicts_the_label() -> None:
    found = fit(cells(1, 600, U_ONLY), [], EscalationConfig(), sessions=24)
    assert found.fitted and found.why == "fitted"
    assert found.weights[0] > 0.85 and sum(found.weights) == pytest.approx(1.0)
    assert found.recall >= 0.8 and found.reached
    # equal weights with the configured threshold catch far fewer of the same cases
    assert found.baseline_recall < found.recall


def test_a_signal_that_predicts_not_asking_gets_no_weight() -> None:
    against = Mix((6.0, -6.0, 0.0), -1.0)  # novelty makes asking less needed
    found = fit(cells(2, 800, against), [], EscalationConfig(), sessions=32)
    assert found.weights[1] == 0.0 and found.coefficients[2] == 0.0
    assert found.weights[0] > 0.7


def test_the_optimum_is_the_penalized_maximum_likelihood() -> None:
    """At the solution the gradient of the penalized log-likelihood is zero (for the active
    coefficients): the Newton loop is not stopping early."""
    rows = rows_of(cells(3, 500, Mix((3.0, 1.5, 2.0), -3.0)), 1.0)
    beta, iterations = logistic(rows)
    assert 2 <= iterations < 30 and all(b > 0 for b in beta[1:])
    gradient = [0.0] * 4
    for row in rows:
        features = [1.0, *row.x]
        p = 1 / (1 + math.exp(-sum(b * f for b, f in zip(beta, features, strict=True))))
        for i in range(4):
            gradient[i] += (row.positives - row.total * p) * features[i]
    for i in range(1, 4):
        gradient[i] -= RIDGE * beta[i]
    assert max(abs(g) for g in gradient) < 1e-6


def test_not_enough_outcomes_keeps_the_configured_policy() -> None:
    config = EscalationConfig(min_outcomes=30)
    few = fit(cells(4, 20, U_ONLY), [], config, sessions=1)
    assert not few.fitted and few.weights == (1 / 3, 1 / 3, 1 / 3) and few.threshold == 0.6
    assert "not enough outcomes" in few.why
    one_label = [Cell(0.5, 0.5, 0.5, 0, 100)]  # a hundred outcomes, none should have asked
    assert not fit(one_label, [], config, sessions=4).fitted


def test_a_question_budget_raises_the_threshold() -> None:
    record = cells(5, 800, Mix((4.0, 2.0, 0.0), -3.0))
    free = fit(record, [], EscalationConfig(target_recall=0.9), sessions=40)
    budget = EscalationConfig(target_recall=0.9, target_questions_per_session=2.0)
    capped = fit(record, [], budget, sessions=40)  # 20 decisions a session: ask <= 10%
    assert capped.threshold > free.threshold
    assert capped.ask_rate <= 0.1 + 1e-9 < free.ask_rate
    assert capped.questions_per_session <= 2.0 + 1e-9
    assert not capped.reached and capped.recall < 0.9 <= free.recall


def test_the_prior_counts_as_at_most_fifty_outcomes() -> None:
    """A new project starts from the user's record; its own outcomes take over as they
    accrue, even against a prior of thousands."""
    prior = cells(6, 5000, Mix((0.0, 8.0, 0.0), -4.0))  # elsewhere novelty mattered
    new = fit([], prior, EscalationConfig(), sessions=200, prior_projects=3)
    assert new.fitted and new.weights[1] > 0.8 and new.prior_weight == pytest.approx(0.01)
    own = cells(7, 400, U_ONLY)  # here uncertainty does
    grown = fit(own, prior, EscalationConfig(), sessions=216, prior_projects=3)
    assert grown.weights[0] > grown.weights[1]
    assert grown.outcomes == 400 and grown.prior_outcomes == 5000


def test_the_fit_is_exact_and_repeatable() -> None:
    record = cells(8, 700, Mix((3.0, 1.0, 2.0), -3.0))
    first = fit(record, [], EscalationConfig(), sessions=30)
    again = fit(list(record), [], EscalationConfig(), sessions=30)
    assert first.model_dump_json() == again.model_dump_json()
    rows = rows_of(record, 1.0)
    assert performance(rows, first.weights, first.threshold) == (first.recall, first.ask_rate)


def test_solve() -> None:
    a = [[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]]
    x = solve(a, [1.0, 2.0, 3.0])
    for row, want in zip(a, [1.0, 2.0, 3.0], strict=True):
        assert sum(r * v for r, v in zip(row, x, strict=True)) == pytest.approx(want)
