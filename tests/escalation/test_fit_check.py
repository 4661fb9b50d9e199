"""The held-out check: fitted weights are put in force only when the project's own newest
outcomes show them catching more should-ask cases than the configured weights asking as
often; otherwise the default stays, and a default that meets its target within the
record's sampling error keeps its threshold too."""

from __future__ import annotations

import math
import random
from pathlib import Path

from artifacts.config import EscalationConfig
from escalation.fit import Fit, performance
from escalation.learn import refit
from escalation.logistic import rows_of
from escalation.outcomes import Outcome
from escalation.record import Record

EQUAL = (1 / 3, 1 / 3, 1 / 3)


def outcomes(seed: int, count: int, signal: float) -> list[Outcome]:
    """Settled decisions, 20 a session; the label follows uncertainty as far as ``signal``
    says (0: a coin whatever the scores, about a quarter should ask)."""
    rng = random.Random(seed)
    found = []
    for i in range(count):
        u, n, b = rng.random(), rng.random(), rng.random()
        z = -1.1 + signal * (u - 0.5)
        should = rng.random() < 1 / (1 + math.exp(-z))
        outcome = Outcome(
            key=f"journal:r1/{i // 20}/{i}", source="turn", topic="turn", situation=f"s{i}",
            run="r1", session=i // 20, uncertainty=u, novelty=n, benefit=b, asked=False,
            should_ask=should,
        )  # fmt: skip
        found.append(outcome)
    return found


def test_a_record_of_noise_keeps_the_configured_weights(tmp_path: Path) -> None:
    """No score predicts the label: weights fitted on it only fit the noise, and they are
    not put in force (they were before the check: the fit's weights were whatever it found)."""
    config = EscalationConfig()
    with Record(tmp_path / "p.db") as record:
        project = record.project_id()
        record.add(project, outcomes(1, 800, signal=0.0))
        report = refit(record, None, config, key="k1")
    found = report.fit
    assert found.weights == EQUAL and report.after.weights == EQUAL
    assert found.fitted and found.validated is False
    assert found.why == f"configured weights kept: {found.check}" and found.check
    assert found.recall >= 0.8  # the threshold still moves toward the target


def test_a_record_with_a_signal_puts_the_fitted_weights_in_force(tmp_path: Path) -> None:
    config = EscalationConfig()
    with Record(tmp_path / "p.db") as record:
        project = record.project_id()
        record.add(project, outcomes(2, 800, signal=8.0))
        report = refit(record, None, config, key="k1")
        again = refit(record, None, config, key="k1")  # resumed: the same check, same result
    found = report.fit
    assert found.validated is True and found.why == "fitted"
    assert found.weights[0] > 0.8 and report.after.source == "fitted"
    assert again == report


def test_too_few_outcomes_to_hold_out_keep_the_default(tmp_path: Path) -> None:
    """40 outcomes clear the fit's minimum (30) but leave 20 older ones to test a fit on:
    nothing can be shown better yet."""
    config = EscalationConfig()
    with Record(tmp_path / "p.db") as record:
        project = record.project_id()
        record.add(project, outcomes(3, 40, signal=8.0))
        found = refit(record, None, config, key="k1").fit
    assert found.weights == EQUAL and found.validated is False
    assert "too few outcomes to test a fit on" in found.check


def fit_on_a_budget(folder: Path, seed: int, signal: float, share: float) -> Fit:
    """A refit of 800 outcomes with a budget of ``share`` of what the default (equal weights,
    0.6) asks per session on the newest 300: within its sampling error for these shares."""
    with Record(folder / "p.db") as record:
        project = record.project_id()
        record.add(project, outcomes(seed, 800, signal=signal))
        window = rows_of(record.cells(up_to=record.last_id(), newest=300), 1.0)
        _, rate = performance(window, EQUAL, 0.6)
        config = EscalationConfig(target_questions_per_session=20 * rate * share)
        return refit(record, None, config, key="k1").fit


def test_a_default_within_its_budget_keeps_its_threshold(tmp_path: Path) -> None:
    """A budget the configured policy already keeps, within the record's sampling error:
    with no better weights shown, the configured threshold stays (before, it moved to an
    estimate of the budget's quantile, and asked more or less by chance)."""
    found = fit_on_a_budget(tmp_path, 4, signal=0.0, share=0.95)
    assert (found.weights, found.threshold) == (EQUAL, 0.6) and found.validated is False


def test_fitted_weights_ask_as_often_as_a_default_within_its_budget(tmp_path: Path) -> None:
    """The default keeps the budget within the record's sampling error and the check shows
    the fitted weights better: they ask on as many of the record's newest outcomes as the
    default does (before, on the budget's quantile estimate: fewer, catching less)."""
    found = fit_on_a_budget(tmp_path, 5, signal=8.0, share=0.9)
    asked, default_asked = found.ask_rate * 300, found.baseline_ask_rate * 300
    assert abs(asked - default_asked) <= 3 and found.recall > found.baseline_recall
    assert found.validated is True and found.weights[0] > 0.8
