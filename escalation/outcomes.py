"""Outcomes of escalation decisions: what happened next, and whether asking was right.

Every decision of the matrix (a model turn the harness scored, an ``ask_human`` the agent
made) gets one ``Outcome`` when its session closes; a policy gate's approval gets one too
(``source="gate"``: shown by ``harness escalation``, never fitted: gates always ask). The
labels are computed from the session's trace (``escalation.trace``), which the session
builds from its journaled steps, so a resumed session computes the same ones.

**Asked** (a question was filed and answered):

- ``human_agreed``: the answer only lets the agent go on: every word of it is a go-ahead
  word (``AGREEING``: "yes", "ok", "go ahead", "lgtm", ...), or it is the agent's own
  stated ``default`` (for ``ask_human``: the choice it said it would make);
- ``agent_changed``: for a turn the harness held back, whether the agent's next tool calls
  differ from the ones it had meant to make (``confidence`` arguments aside); None when it
  meant none, made no later turn, or asked with ``ask_human`` (no intended calls);
- ``should_ask = not human_agreed``. The label rests on the human's answer, not on what
  the agent did next: the agent is untrusted, and one that ignored every answer would
  otherwise teach the harness that answers never matter.

**Not asked** (below the threshold, the session's cap reached, or a hedge alone in an
unattended run):

- ``undone``: a file that the decision's window changed is back to the bytes it had
  before the window (or gone, when the window created it) when the session ends;
- ``check_failed``: a feature check run in the window failed, and no check of the same
  feature passed later in the session;
- ``later_answer``: a later question of the same session was answered with more than a
  go-ahead, about a similar situation (cosine >= ``SIMILAR`` of the two situations' local
  hashed embeddings);
- ``should_ask = undone or check_failed or later_answer``.

The **window** of a decision is what ran after it up to the session's next decision (for a
turn: the turn's own tool calls, which ran because nobody was asked). Every outcome also
says whether the session ended with its feature passing (``feature_passed``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

SIMILAR = 0.5
Source = Literal["turn", "ask_human", "gate"]

_AGREEING = (
    "yes y yep yeah yup ok okay k sure fine good great perfect go ahead on proceed continue "
    "carry do it that lgtm looks sounds approved approve agreed agree correct right please "
    "thanks thank you your call up to decide as planned suggested said default"
)
AGREEING = frozenset(_AGREEING.split())
"""Words an answer that only lets the agent go on is made of ("yes, go ahead", "ok thanks")."""
_FILLERS = "it that please thanks thank you your to as on looks sounds carry"
_FILLER = frozenset(_FILLERS.split())
_CORE = AGREEING - _FILLER
_WORDS = re.compile(r"[a-z]+")


class Outcome(BaseModel):
    """One settled escalation decision: its scores, what happened next, and the label."""

    key: str
    """The decision's journal reference (``journal:<run>/<session>/<seq>``) or, for a gate,
    its question's key."""
    source: Source
    topic: str
    task_type: str = "-"
    """The kind of task: the session's feature category ("functional", "ui", ...)."""
    situation: str
    """A digest of the situation's topic and text (the text itself stays in the project)."""
    run: str | None = None
    session: int | None = None
    uncertainty: float = 0.0
    structured: float = 0.0
    """Uncertainty from the structured signals alone (confidence, samples), hedging aside."""
    novelty: float = 0.0
    benefit: float = 0.0
    score: float = 0.0
    threshold: float = 0.0
    weights: tuple[float, float, float] = (0.0, 0.0, 0.0)
    policy: str = "config"
    """Where the weights and threshold came from: "config", or "fitted"."""
    asked: bool
    capped: bool = False
    hedge_only: bool = False
    question: str | None = None
    human_agreed: bool | None = None
    agent_changed: bool | None = None
    undone: bool | None = None
    check_failed: bool | None = None
    later_answer: bool | None = None
    feature_passed: bool = False
    should_ask: bool
    relabeled: str | None = None
    """Why a later session showed that this decision should have asked (the record's
    ``relabels``; read back by ``Record.outcomes``, never stored in the outcome's row)."""


def agrees(answer: str | None, default: str | None = None) -> bool:
    """Whether ``answer`` only lets the agent go on: a go-ahead, or its own ``default``."""
    text = " ".join((answer or "").lower().split())
    if not text:
        return False
    if default and text == " ".join(default.lower().split()):
        return True
    words = _WORDS.findall(text)
    leftover = re.sub(r"[a-z]+|[\s.,;:!'\"()-]+", "", text)
    return bool(words) and not leftover and set(words) <= AGREEING and bool(set(words) & _CORE)
