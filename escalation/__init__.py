"""Escalation: policy gates, the escalation matrix, and durable questions to a human.

The package's names are loaded on first use (PEP 562): `harness status` reads the question
queue (``escalation.question_db``) without importing the gates, the matrix and the learner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escalation.ask import (
        AskResult,
        GateOutcome,
        ask_human,
        gate_action,
        is_unattended,
    )
    from escalation.fit import Fit, Policy
    from escalation.gates import Action, GateDecision, Gates, approval_text, render_denial
    from escalation.learn import FitReport, Settled
    from escalation.matrix import Decision, Matrix, Situation
    from escalation.outcomes import Outcome
    from escalation.questions import Question, QuestionError, QuestionStore, Scores
    from escalation.record import Record
    from escalation.session import Escalation

_WHERE = {
    "AskResult": "escalation.ask",
    "GateOutcome": "escalation.ask",
    "ask_human": "escalation.ask",
    "gate_action": "escalation.ask",
    "is_unattended": "escalation.ask",
    "Fit": "escalation.fit",
    "Policy": "escalation.fit",
    "Action": "escalation.gates",
    "GateDecision": "escalation.gates",
    "Gates": "escalation.gates",
    "approval_text": "escalation.gates",
    "render_denial": "escalation.gates",
    "FitReport": "escalation.learn",
    "Settled": "escalation.learn",
    "Decision": "escalation.matrix",
    "Matrix": "escalation.matrix",
    "Situation": "escalation.matrix",
    "Outcome": "escalation.outcomes",
    "Question": "escalation.questions",
    "QuestionError": "escalation.questions",
    "QuestionStore": "escalation.questions",
    "Scores": "escalation.questions",
    "Record": "escalation.record",
    "Escalation": "escalation.session",
}

__all__ = [
    "Action",
    "AskResult",
    "Decision",
    "Escalation",
    "Fit",
    "FitReport",
    "GateDecision",
    "GateOutcome",
    "Gates",
    "Matrix",
    "Outcome",
    "Policy",
    "Question",
    "QuestionError",
    "QuestionStore",
    "Record",
    "Scores",
    "Settled",
    "Situation",
    "approval_text",
    "ask_human",
    "gate_action",
    "is_unattended",
    "render_denial",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'escalation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
