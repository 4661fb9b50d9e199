"""The escalation matrix: score = w1·uncertainty + w2·novelty + w3·intervention benefit.

- uncertainty (``escalation.signals``): noisy-or of the model's doubt: 1 - its structured
  confidence, the disagreement of N samples of the same turn, and hedging in its text;
- novelty: 1 - the largest cosine similarity of this situation to earlier ones of the
  project (the history lives in ``questions.db``, so it survives processes);
- benefit: the share of this project's answered escalations of the same topic and task
  type whose answer mattered (``escalation.outcomes``), shrunk toward the topic's share,
  itself shrunk toward the user's other projects' share (0.5 with no record at all).

The weights and threshold in force are the project's newest fit (``escalation.fit``) when
``learn`` is on and one exists, else the configured ones (equal weights by default).
Above the threshold the agent is made to ask, unless the session's cap on questions is
reached, or the run is unattended and the score is above the threshold only through
hedging: an unattended run never stops for a hedge alone. Every ``Decision`` carries its
scores and why it was taken, for the journal (kind "escalation") and the question.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

from escalation.embed import Embedder, HashedEmbedder, VectorIndex
from escalation.fit import Policy, Weighted, policy_of
from escalation.questions import QuestionStore, Scores
from escalation.record import Record
from escalation.signals import (
    HEDGE_DECAY,
    combine_uncertainty,
    disagreement,
    hedges,
    hedging_score,
)

__all__ = [
    "Decision",
    "Matrix",
    "MatrixSettings",
    "Policy",
    "Situation",
    "benefit_estimate",
    "combine_uncertainty",
    "disagreement",
    "hedges",
    "hedging_score",
]
UNSTATED_CONFIDENCE = 0.5
"""The confidence of an ``ask_human`` that states none: the agent asked, so it is not sure."""
SHRINK = 2.0
"""Pseudo-answers by which a benefit estimate leans on the broader one above it."""


class MatrixSettings(Weighted, Protocol):
    """What the matrix reads of ``artifacts.config.EscalationConfig``: the configured
    weights and threshold, and these."""

    @property
    def max_questions_per_session(self) -> int: ...
    @property
    def learn(self) -> bool: ...


class Situation(BaseModel):
    """What the agent faces at one step, as the session describes it."""

    topic: str = "ask_human"
    """The kind of situation; intervention benefit is counted per topic."""
    text: str
    """The agent's reasoning and intended action: embedded for novelty, scanned for hedges."""
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    """The model's own structured confidence, when its tool arguments carried one."""
    samples: list[str] = Field(default_factory=list)
    """N candidate answers to the same call, for disagreement (optional)."""
    samples_method: Literal["exact", "embedding"] | None = None
    """How samples are compared: "exact" (tool calls), "embedding" (prose); None: the
    matrix's default."""
    task_type: str = "-"
    """The kind of task (the feature's category); benefit is counted per topic and type."""
    session: int | None = None
    run: str | None = None


class Decision(BaseModel):
    """One escalation decision with its three scores (journaled, kind "escalation")."""

    topic: str
    uncertainty: float
    novelty: float
    benefit: float
    total: float
    threshold: float
    weights: tuple[float, float, float]
    escalate: bool
    """Ask a human now."""
    capped: bool = False
    """The score was above the threshold but the session's question cap was reached."""
    hedge_only: bool = False
    """Above the threshold only through hedging, in an unattended run: not asked."""
    reason: str
    confidence: float | None = None
    hedges: list[str] = Field(default_factory=list)
    disagreement: float | None = None
    structured: float = 0.0
    """Uncertainty from the structured signals alone (confidence, samples)."""
    policy: str = "config"
    outcomes: int = 0
    """How many outcomes the weights and threshold rest on (0: configured)."""
    questions_asked: int = 0
    max_questions: int = 0
    situation_id: int | None = None
    embedder: str = ""

    def scores(self) -> Scores:
        """The scores to file with the question this decision leads to."""
        return Scores(
            uncertainty=self.uncertainty,
            novelty=self.novelty,
            benefit=self.benefit,
            total=self.total,
            structured=self.structured,
            threshold=self.threshold,
            weights=self.weights,
            policy=self.policy,
            outcomes=self.outcomes,
        )

    @classmethod
    def of_question(cls, topic: str, scores: Scores, reason: str) -> Decision:
        """The decision a question was filed on, rebuilt from its scores (a resumed ask)."""
        return cls(
            topic=topic,
            uncertainty=scores.uncertainty,
            novelty=scores.novelty,
            benefit=scores.benefit,
            total=scores.total,
            structured=scores.structured,
            threshold=scores.threshold,
            weights=scores.weights,
            policy=scores.policy,
            outcomes=scores.outcomes,
            escalate=True,
            reason=reason,
        )


def benefit_estimate(changed: int, total: int, prior: tuple[float, float] = (1.0, 1.0)) -> float:
    """Posterior mean of P(answer changes the outcome) under a Beta prior."""
    a, b = prior
    return (changed + a) / (total + a + b)


class Matrix:
    """Scores situations and decides whether to ask, keeping the history for novelty."""

    def __init__(
        self,
        config: MatrixSettings,
        store: QuestionStore,
        *,
        record: Record | None = None,
        prior: Record | None = None,
        embedder: Embedder | None = None,
        samples_method: Literal["exact", "embedding"] = "exact",
        unattended: bool = False,
    ) -> None:
        """Args:
        record: the project's outcomes and fits (default: ``.harness/escalation.db``).
        prior: the user's record of every project (None: no prior).
        unattended: no human watches the run: a hedge alone never makes it ask.
        """
        self.config = config
        self.store = store
        self.record = record if record is not None else Record.of_project(store.state_dir)
        self.prior = prior
        self.embedder: Embedder = embedder or HashedEmbedder()
        self.samples_method = samples_method
        self.unattended = unattended
        self.project = self.record.project_id()
        self._index = VectorIndex()
        self._last_id = 0

    def _refresh(self) -> None:
        """Load situations added since the last look (by this or another process)."""
        for row_id, vector in self.store.situations_after(self.embedder.name, self._last_id):
            self._index.add(vector)
            self._last_id = row_id

    def novelty(self, vector: list[float]) -> float:
        """1 - the largest similarity to an earlier situation (1.0 with no history)."""
        self._refresh()
        return max(0.0, 1.0 - self._index.nearest(vector))

    def policy(self) -> Policy:
        """The weights and threshold in force: the newest fit if learning, else config."""
        found = self.record.current_fit(self.project) if self.config.learn else None
        return policy_of(found, self.config)

    def benefit(self, topic: str, task_type: str = "-") -> float:
        """How often answers to this kind of situation mattered (module docstring)."""
        rate = 0.5
        if self.prior is not None:
            other = self.prior.answered(topic, other_than=self.project)
            rate = benefit_estimate(other.mattered, other.total)
        here = self.record.answered(topic, project=self.project)
        rate = (here.mattered + SHRINK * rate) / (here.total + SHRINK)
        kind = self.record.answered(topic, task_type=task_type, project=self.project)
        return (kind.mattered + SHRINK * rate) / (kind.total + SHRINK)

    def decide(
        self, situation: Situation, *, questions_asked: int | None = None, record: bool = True
    ) -> Decision:
        """Score ``situation`` and decide; with ``record``, add it to the history.

        Args:
            situation: what the agent faces.
            questions_asked: questions already asked this session (default: counted in
                the store for ``situation.session``/``situation.run``).
            record: keep the situation for the novelty of later ones.
        """
        found = hedges(situation.text)
        structured_signals = []
        if situation.confidence is not None:
            structured_signals.append(1.0 - situation.confidence)
        spread = None
        if len(situation.samples) >= 2:
            method = situation.samples_method or self.samples_method
            spread = disagreement(situation.samples, method=method, embedder=self.embedder)
            structured_signals.append(spread)
        s = combine_uncertainty(structured_signals)
        u = combine_uncertainty([1.0 - HEDGE_DECAY ** len(found), *structured_signals])
        vector = self.embedder.embed(f"{situation.topic}\n{situation.text}")
        n = self.novelty(vector)
        b = self.benefit(situation.topic, situation.task_type)
        policy = self.policy()
        w, threshold = policy.weights, policy.threshold
        total = w[0] * u + w[1] * n + w[2] * b
        plain = w[0] * s + w[1] * n + w[2] * b
        asked = questions_asked
        if asked is None:
            asked = self.store.count_asked(situation.session, situation.run)
        cap = self.config.max_questions_per_session
        above = total > threshold
        hedge_only = above and self.unattended and plain <= threshold
        capped = above and not hedge_only and asked >= cap
        situation_id = None
        if record:
            situation_id = self.store.add_situation(
                self.embedder.name,
                situation.topic,
                situation.text,
                vector,
                session=situation.session,
                run=situation.run,
            )
        decision = Decision(
            topic=situation.topic,
            uncertainty=round(u, 6),
            novelty=round(n, 6),
            benefit=round(b, 6),
            total=round(total, 6),
            threshold=threshold,
            weights=w,
            escalate=above and not hedge_only and not capped,
            capped=capped,
            hedge_only=hedge_only,
            reason="",
            confidence=situation.confidence,
            hedges=found,
            disagreement=spread,
            structured=round(s, 6),
            policy=policy.source,
            outcomes=policy.outcomes,
            questions_asked=asked,
            max_questions=cap,
            situation_id=situation_id,
            embedder=self.embedder.name,
        )
        return decision.model_copy(update={"reason": explain(decision, plain)})


def explain(d: Decision, plain: float) -> str:
    """Why the decision went the way it did, with the parts of the score (for the human)."""
    t = d.threshold
    if d.hedge_only:
        head = (
            f"score {d.total:.3f} > threshold {t:.3f} only through hedging ({plain:.3f} "
            "without it): an unattended run does not stop for a hedge alone"
        )
    elif d.capped:
        head = (
            f"score {d.total:.3f} > threshold {t:.3f}, but the session's cap of "
            f"{d.max_questions} questions is reached"
        )
    else:
        head = f"score {d.total:.3f} {'>' if d.escalate else '<='} threshold {t:.3f}"
    w = d.weights
    source = f"fitted on {d.outcomes} outcomes" if d.policy == "fitted" else "configured"
    doubts = []
    if d.confidence is not None:
        doubts.append(f"confidence {d.confidence:.2f}")
    if d.disagreement is not None:
        doubts.append(f"samples disagree {d.disagreement:.2f}")
    if d.hedges:
        doubts.append("hedges: " + ", ".join(dict.fromkeys(d.hedges)))
    detail = f" ({'; '.join(doubts)})" if doubts else ""
    return (
        f"{head}; weights {w[0]:.2f}/{w[1]:.2f}/{w[2]:.2f} ({source}) on uncertainty "
        f"{d.uncertainty:.2f}{detail}, novelty {d.novelty:.2f}, benefit {d.benefit:.2f}"
    )
