"""Escalation: policy gates, the escalation matrix, and durable questions to a human."""

from escalation.ask import (
    AskResult,
    GateOutcome,
    ask_human,
    gate_action,
    is_unattended,
)
from escalation.gates import Action, GateDecision, Gates, approval_text, render_denial
from escalation.matrix import Decision, Matrix, Situation
from escalation.questions import Question, QuestionError, QuestionStore, Scores
from escalation.session import Escalation

__all__ = [
    "Action",
    "AskResult",
    "Decision",
    "Escalation",
    "GateDecision",
    "GateOutcome",
    "Gates",
    "Matrix",
    "Question",
    "QuestionError",
    "QuestionStore",
    "Scores",
    "Situation",
    "approval_text",
    "ask_human",
    "gate_action",
    "is_unattended",
    "render_denial",
]
