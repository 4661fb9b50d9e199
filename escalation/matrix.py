"""The escalation matrix: score = w1·uncertainty + w2·novelty + w3·intervention benefit.

- uncertainty: noisy-or of the model's doubt signals: 1 - its structured confidence,
  hedging in its text, and (optionally) the disagreement of N samples of the same call;
- novelty: 1 - the largest cosine similarity of this situation to earlier ones in the
  project (the history lives in ``questions.db``, so it survives processes);
- benefit: the share of answered escalations of the same topic whose answer changed the
  outcome, under a Beta(1, 1) prior (0.5 with no history).

Above the threshold the agent is made to ask, unless the session's cap on questions is
reached. Every ``Decision`` carries its three scores, for the journal (kind "escalation").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from escalation.embed import Embedder, HashedEmbedder, VectorIndex, cosine
from escalation.questions import QuestionStore, Scores

HEDGES = (
    "i think",
    "i believe",
    "i guess",
    "i suppose",
    "not sure",
    "unsure",
    "not certain",
    "uncertain",
    "unclear",
    "maybe",
    "might",
    "perhaps",
    "probably",
    "possibly",
    "presumably",
    "assume",
    "assuming",
    "it seems",
    "seems to",
    "could be",
    "hopefully",
    "i don't know",
    "do not know",
    "ambiguous",
    "no idea",
    "guess",
)
_HEDGE_RE = re.compile(r"\b(" + "|".join(re.escape(h) for h in HEDGES) + r")\b", re.IGNORECASE)
HEDGE_DECAY = 0.6
"""Each hedge keeps this share of the remaining certainty: 1 → 0.4, 2 → 0.64, 3 → 0.78."""


class MatrixSettings(Protocol):
    """What the matrix reads of ``artifacts.config.EscalationConfig``."""

    @property
    def w_uncertainty(self) -> float: ...
    @property
    def w_novelty(self) -> float: ...
    @property
    def w_benefit(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def max_questions_per_session(self) -> int: ...


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
    reason: str
    confidence: float | None = None
    hedges: list[str] = Field(default_factory=list)
    disagreement: float | None = None
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
        )


def hedges(text: str) -> list[str]:
    """The hedging phrases in ``text``, lower-cased, in order of appearance."""
    return [match.group(1).lower() for match in _HEDGE_RE.finditer(text)]


def hedging_score(text: str) -> float:
    """Doubt expressed in words, in [0, 1): 0 with no hedge, rising with each one."""
    return 1.0 - HEDGE_DECAY ** len(hedges(text))


def disagreement(
    samples: Sequence[str],
    *,
    method: Literal["exact", "embedding"] = "exact",
    embedder: Embedder | None = None,
) -> float:
    """How much N candidate answers disagree, in [0, 1] (0 for fewer than two).

    "exact": 1 - share of the most common answer (whitespace and case folded), scaled so
    that N different answers give 1. "embedding": mean pairwise cosine distance.
    """
    n = len(samples)
    if n < 2:
        return 0.0
    if method == "exact":
        counts = Counter(" ".join(s.lower().split()) for s in samples)
        top = counts.most_common(1)[0][1]
        return (1.0 - top / n) / (1.0 - 1.0 / n)
    model = embedder or HashedEmbedder()
    vectors = [model.embed(s) for s in samples]
    distances = [1.0 - cosine(vectors[i], vectors[j]) for i in range(n) for j in range(i + 1, n)]
    return min(1.0, max(0.0, sum(distances) / len(distances)))


def combine_uncertainty(signals: Sequence[float]) -> float:
    """Noisy-or: any one strong signal of doubt makes the whole uncertain."""
    certain = 1.0
    for signal in signals:
        certain *= 1.0 - min(1.0, max(0.0, signal))
    return 1.0 - certain


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
        embedder: Embedder | None = None,
        samples_method: Literal["exact", "embedding"] = "exact",
    ) -> None:
        self.config = config
        self.store = store
        self.embedder: Embedder = embedder or HashedEmbedder()
        self.samples_method = samples_method
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
        return 1.0 - self._index.nearest(vector)

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
        cfg = self.config
        found = hedges(situation.text)
        signals = [1.0 - HEDGE_DECAY ** len(found)]
        if situation.confidence is not None:
            signals.append(1.0 - situation.confidence)
        spread = None
        if len(situation.samples) >= 2:
            spread = disagreement(
                situation.samples, method=self.samples_method, embedder=self.embedder
            )
            signals.append(spread)
        u = combine_uncertainty(signals)
        vector = self.embedder.embed(f"{situation.topic}\n{situation.text}")
        n = self.novelty(vector)
        b = benefit_estimate(*self.store.outcomes(situation.topic))
        weights = (cfg.w_uncertainty, cfg.w_novelty, cfg.w_benefit)
        total = weights[0] * u + weights[1] * n + weights[2] * b
        asked = questions_asked
        if asked is None:
            asked = self.store.count_asked(situation.session, situation.run)
        above = total > cfg.threshold
        capped = above and asked >= cfg.max_questions_per_session
        if capped:
            reason = (
                f"score {total:.3f} > threshold {cfg.threshold:g}, but the session's "
                f"cap of {cfg.max_questions_per_session} questions is reached"
            )
        elif above:
            reason = f"score {total:.3f} > threshold {cfg.threshold:g}"
        else:
            reason = f"score {total:.3f} <= threshold {cfg.threshold:g}"
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
        return Decision(
            topic=situation.topic,
            uncertainty=round(u, 6),
            novelty=round(n, 6),
            benefit=round(b, 6),
            total=round(total, 6),
            threshold=cfg.threshold,
            weights=weights,
            escalate=above and not capped,
            capped=capped,
            reason=reason,
            confidence=situation.confidence,
            hedges=found,
            disagreement=spread,
            questions_asked=asked,
            max_questions=cfg.max_questions_per_session,
            situation_id=situation_id,
            embedder=self.embedder.name,
        )
