"""The escalation matrix: each score moves the way it should, the cap holds, history persists."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts.config import EscalationConfig
from escalation.embed import HashedEmbedder, VectorIndex, cosine
from escalation.matrix import (
    Decision,
    Matrix,
    Situation,
    combine_uncertainty,
    disagreement,
    hedges,
    hedging_score,
)
from escalation.outcomes import Outcome
from escalation.questions import QuestionStore
from escalation.record import Record

PLAIN = "Run the test suite for the login form and fix the failing assertion in auth.py."
HEDGED = (
    "I think the login form should maybe redirect, but I'm not sure; it might be unclear "
    "what the spec wants, so I assume the dashboard."
)


def test_hedging_raises_uncertainty(store: QuestionStore) -> None:
    matrix = Matrix(EscalationConfig(), store)
    plain = matrix.decide(Situation(text=PLAIN), record=False)
    hedged = matrix.decide(Situation(text=HEDGED), record=False)
    assert plain.uncertainty == 0.0
    assert hedged.uncertainty > 0.9
    assert {"i think", "maybe", "not sure", "might", "unclear", "assume"} <= set(hedged.hedges)
    assert hedges("Maybe. I THINK so") == ["maybe", "i think"]
    assert hedging_score("") == 0.0
    assert 0 < hedging_score("maybe") < hedging_score("maybe, I think") < 1


def test_confidence_and_samples_raise_uncertainty(store: QuestionStore) -> None:
    matrix = Matrix(EscalationConfig(), store)
    sure = matrix.decide(Situation(text=PLAIN, confidence=0.95), record=False)
    unsure = matrix.decide(Situation(text=PLAIN, confidence=0.2), record=False)
    assert sure.uncertainty < 0.1 < 0.7 < unsure.uncertainty
    agree = matrix.decide(Situation(text=PLAIN, samples=["a", "A ", "a"]), record=False)
    split = matrix.decide(Situation(text=PLAIN, samples=["a", "b", "c"]), record=False)
    assert agree.disagreement == 0.0 and agree.uncertainty == 0.0
    assert split.disagreement == 1.0 and split.uncertainty == 1.0


def test_disagreement() -> None:
    assert disagreement(["x"]) == 0.0
    assert disagreement(["x", "x", "y", "y"]) == 2 / 3
    same = disagreement(["fix auth.py", "fix auth.py"], method="embedding")
    apart = disagreement(["fix auth.py", "delete the database"], method="embedding")
    assert same < 1e-6 < 0.5 < apart
    assert combine_uncertainty([]) == 0.0
    assert combine_uncertainty([0.5, 0.5]) == 0.75


def test_repeated_situation_has_low_novelty(store: QuestionStore) -> None:
    matrix = Matrix(EscalationConfig(), store)
    first = matrix.decide(Situation(text=PLAIN))
    again = matrix.decide(Situation(text=PLAIN))
    other = matrix.decide(Situation(text="Provision a GPU cluster and rotate the TLS keys."))
    assert first.novelty == 1.0
    assert again.novelty < 0.01
    assert other.novelty > 0.5
    assert first.situation_id is not None and again.situation_id == first.situation_id + 1


def test_history_survives_the_process(project: Path) -> None:
    with QuestionStore(project / ".harness") as store:
        Matrix(EscalationConfig(), store).decide(Situation(text=PLAIN))
    with QuestionStore(project / ".harness") as store:
        later = Matrix(EscalationConfig(), store).decide(Situation(text=PLAIN))
    assert later.novelty < 0.01


def asked(topic: str, mattered: bool, key: str, task_type: str = "-") -> Outcome:
    """An answered escalation of ``topic`` whose answer mattered or not."""
    return Outcome(
        key=key, source="ask_human", topic=topic, task_type=task_type, situation="d",
        asked=True, human_agreed=not mattered, should_ask=mattered,
    )  # fmt: skip


def test_benefit_follows_outcomes(store: QuestionStore) -> None:
    matrix = Matrix(EscalationConfig(), store)
    assert matrix.decide(Situation(topic="t", text=PLAIN), record=False).benefit == 0.5
    project = matrix.project
    answers = [asked("t", m, f"k{i}") for i, m in enumerate((True, True, True, False))]
    matrix.record.add(project, [*answers, asked("other", False, "k9")])
    decision = matrix.decide(Situation(topic="t", text=PLAIN), record=False)
    topic = (3 + 2 * 0.5) / (4 + 2)  # the topic's share, shrunk toward 0.5
    assert decision.benefit == pytest.approx((3 + 2 * topic) / (4 + 2), abs=1e-6)
    other = matrix.decide(Situation(topic="other", text=PLAIN), record=False)
    assert other.benefit == pytest.approx((0 + 2 * (1 / 3)) / 3, abs=1e-6)
    # per task type: answers about "ui" tasks mattered, the same topic on "api" tasks not
    matrix.record.add(project, [asked("u", True, f"u{i}", "ui") for i in range(6)])
    matrix.record.add(project, [asked("u", False, f"a{i}", "api") for i in range(6)])
    ui = matrix.decide(Situation(topic="u", text=PLAIN, task_type="ui"), record=False)
    api = matrix.decide(Situation(topic="u", text=PLAIN, task_type="api"), record=False)
    assert ui.benefit > 0.6 > 0.4 > api.benefit


def test_benefit_of_a_new_project_leans_on_the_users_other_projects(
    project: Path, tmp_path: Path
) -> None:
    prior = Record(tmp_path / "user" / "outcomes.db")
    prior.add("elsewhere", [asked("t", True, f"k{i}") for i in range(20)])
    with QuestionStore(project / ".harness") as store:
        alone = Matrix(EscalationConfig(), store).decide(Situation(topic="t", text=PLAIN))
        leaning = Matrix(EscalationConfig(), store, prior=prior)
        with_prior = leaning.decide(Situation(topic="t", text=PLAIN), record=False)
    assert alone.benefit == 0.5
    assert with_prior.benefit == pytest.approx(21 / 22, abs=1e-6)
    prior.close()


def test_threshold_and_cap(store: QuestionStore) -> None:
    config = EscalationConfig(threshold=0.5, max_questions_per_session=1)
    matrix = Matrix(config, store)
    low = matrix.decide(Situation(text=PLAIN, confidence=1.0, session=1))
    assert not low.escalate  # new (n=1), benefit 0.5, equal weights: (0 + 1 + 0.5) / 3
    assert low.total == 0.5
    high = matrix.decide(Situation(text=HEDGED, confidence=0.1, session=1))
    assert high.escalate and not high.capped and high.questions_asked == 0
    store.ask("question", HEDGED, scores=high.scores(), session=1)
    capped = matrix.decide(Situation(text=HEDGED + " again", confidence=0.1, session=1))
    assert capped.total > config.threshold
    assert capped.capped and not capped.escalate and "cap" in capped.reason
    store.ask("approval", "push?", session=1)  # approvals do not count toward the cap
    assert store.count_asked(1) == 1
    novel = "I think the TLS keys of the GPU cluster maybe need rotating, not sure."
    other_session = matrix.decide(Situation(text=novel, confidence=0.1, session=2))
    assert other_session.escalate


def test_decision_is_journalable(store: QuestionStore) -> None:
    decision = Matrix(EscalationConfig(), store).decide(Situation(text=HEDGED, confidence=0.5))
    again = Decision.model_validate_json(decision.model_dump_json())
    assert again == decision
    assert again.scores().total == decision.total


def test_embedding_is_deterministic_and_index_matches_brute_force() -> None:
    model = HashedEmbedder()
    a = model.embed("fix the flaky login test")
    assert a == model.embed("fix the flaky login test")
    assert abs(cosine(a, a) - 1.0) < 1e-9
    index = VectorIndex(shortlist=4)
    texts = [f"step {i}: edit module_{i % 7}.py and run test_{i % 5}" for i in range(60)]
    for text in texts:
        index.add(model.embed(text))
    for query in ("edit module_3.py and run test_2", "deploy to production", "step 12"):
        vector = model.embed(query)
        assert abs(index.nearest(vector) - index.nearest(vector, exact=True)) < 1e-9
