"""The model gateway: the `Model` protocol, `LitellmModel`, the failure policy, accounting.

litellm is imported only when a model is first called (`harness.model.scripted`, the
offline scripted provider, imports it too and is loaded only then).
"""

from harness.model.accounting import Accounting
from harness.model.base import (
    BudgetSettings,
    Model,
    ModelResponse,
    ModelSettings,
    ToolCall,
    Usage,
)
from harness.model.litellm_model import LitellmModel
from harness.model.policy import POLICY, Action, RetriesExhausted, Rule, classify

__all__ = [
    "POLICY",
    "Accounting",
    "Action",
    "BudgetSettings",
    "LitellmModel",
    "Model",
    "ModelResponse",
    "ModelSettings",
    "RetriesExhausted",
    "Rule",
    "ToolCall",
    "Usage",
    "classify",
]
