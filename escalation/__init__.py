"""Escalation: policy gates, the escalation matrix, and durable questions to a human."""

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
