"""`harness escalation` shows the weights and threshold in force and what they rest on; the
fitted ones travel with `harness state save/load` to a clone on a machine whose user record
is empty."""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
from pathlib import Path

import pytest

from artifacts.config import EscalationConfig, HarnessConfig
from escalation.learn import refit
from escalation.outcomes import Outcome
from escalation.record import Record, user_record_path
from harness.cli import main
from harness.journal.keys import state_home
from session.wiring import build_escalation
from tests.escalation.test_learn import outcomes
from tests.harness.test_state import make_repo


def cli(root: Path, *args: str) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["-C", str(root), *args])
    return code, buffer.getvalue()


def gate(key: str, approved: bool) -> Outcome:
    return Outcome(
        key=key, source="gate", topic="gate:command:git push", situation="g", asked=True,
        human_agreed=approved, should_ask=not approved,
    )  # fmt: skip


def fitted_project(root: Path) -> tuple[str, Outcome]:
    """A project whose record holds 200 outcomes, three gate approvals and one fit."""
    config = EscalationConfig()
    prior = Record(user_record_path(state_home()))
    with Record.of_project(root / ".harness") as record:
        project = record.project_id()
        mine = [*outcomes(11, 200), gate("g1", True), gate("g2", True), gate("g3", False)]
        record.add(project, mine)
        prior.add(project, mine)
        report = refit(record, prior, config, key="journal:r1/7/30")
    prior.close()
    assert report.fit.fitted and report.changed
    return project, mine[0]


def test_nothing_recorded_yet(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "p")
    code, out = cli(root, "escalation")
    assert code == 0 and "no escalation record" in out


def test_it_shows_the_weights_what_they_rest_on_and_the_record(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "p")
    fitted_project(root)
    code, out = cli(root, "escalation")
    assert code == 0
    assert "(fitted on 200 outcomes)" in out
    assert "200 outcomes here + 0 from 0 other projects" in out
    assert "target met on the record" in out
    assert "gate       gate:command:git push: 3 asked, 2 approved, 1 denied" in out
    assert "refits     1 kept" in out and "journal:r1/7/30" in out
    code, out = cli(root, "escalation", "--json")
    data = json.loads(out)
    assert data["policy"]["source"] == "fitted" and data["fit"]["outcomes"] == 200
    assert data["on_record"]["recall"] >= 0.8
    assert data["samples"] == {"calls": 0, "tokens": 0, "cost_usd": 0.0}


def test_it_says_when_the_held_out_check_keeps_the_configured_weights(tmp_path: Path) -> None:
    """A record of noise and a budget the default keeps: the fit is not shown better, and
    the command says so and why."""
    root = make_repo(tmp_path / "p")
    rng = random.Random(12)
    with Record.of_project(root / ".harness") as record:
        noise = [
            o.model_copy(update={"should_ask": rng.random() < 0.25}) for o in outcomes(13, 600)
        ]
        record.add(record.project_id(), noise)
        asking = sum(o.uncertainty + o.novelty + o.benefit > 1.8 for o in noise[-300:]) / 300
        budget = EscalationConfig(target_questions_per_session=20 * asking)  # the default's
        refit(record, None, budget, key="journal:r1/30/20")
    code, out = cli(root, "escalation")
    assert code == 0
    assert "(configured: the fit on 600 outcomes is not shown better)" in out
    assert "check      fitted weights not in force (configured weights kept): asking on" in out
    assert "weights    uncertainty 0.333  novelty 0.333  benefit 0.333" in out


def test_fitted_weights_survive_a_state_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "p")
    project, _ = fitted_project(root)
    code, before = cli(root, "escalation", "--json")
    assert code == 0
    saved = tmp_path / "state.tar.gz"
    assert main(["-C", str(root), "state", "save", str(saved)]) == 0
    clone = tmp_path / "machine-b" / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    monkeypatch.setenv("HARNESS_STATE_HOME", str(tmp_path / "machine-b" / "state"))
    assert main(["-C", str(clone), "state", "load", str(saved)]) == 0
    code, after = cli(clone, "escalation", "--json")
    assert code == 0
    moved, kept = json.loads(after), json.loads(before)
    assert moved["project"] == kept["project"] == project
    assert moved["policy"] == kept["policy"] and moved["policy"]["source"] == "fitted"
    assert moved["user_outcomes"] == 0  # this machine's user record knows nothing of it
    escalation = build_escalation(clone, HarnessConfig(), "r2", unattended=True)
    try:
        policy = escalation.matrix.policy()
    finally:
        escalation.close()
    assert list(policy.weights) == kept["policy"]["weights"]
    assert policy.threshold == kept["policy"]["threshold"]
