"""Token and dollar accounting per call, session and run, and the budgets checked before a call.

Accounting is plain numbers: on resume the session rebuilds it from the journal
(`Accounting.from_totals`, or `add` for each recorded usage), since replayed model steps
do not call the model again.
"""

from __future__ import annotations

from typing import Any

from harness.errors import BudgetExhausted
from harness.model.base import BudgetSettings, Usage


class Accounting:
    """Usage of the current session and of the whole run, against the budgets."""

    def __init__(self, budgets: BudgetSettings | None = None) -> None:
        self.budgets = budgets
        self.session = Usage()
        self.run = Usage()
        self.session_calls = 0
        self.run_calls = 0
        self.last: Usage | None = None

    @classmethod
    def from_totals(
        cls,
        budgets: BudgetSettings | None = None,
        *,
        run_tokens: int = 0,
        run_cost_usd: float = 0.0,
        session_tokens: int = 0,
        session_cost_usd: float = 0.0,
        run_calls: int = 0,
        session_calls: int = 0,
    ) -> Accounting:
        """Accounting restored from totals (e.g. summed from the journal on resume)."""
        acc = cls(budgets)
        acc.run = Usage(total_tokens=run_tokens, cost_usd=run_cost_usd)
        acc.session = Usage(total_tokens=session_tokens, cost_usd=session_cost_usd)
        acc.run_calls = run_calls
        acc.session_calls = session_calls
        return acc

    def new_session(self) -> None:
        """Start counting a new session; the run totals carry on."""
        self.session = Usage()
        self.session_calls = 0
        self.last = None

    def add(self, usage: Usage) -> None:
        """Count one call's usage in the session and the run."""
        self.session = self.session + usage
        self.run = self.run + usage
        self.session_calls += 1
        self.run_calls += 1
        self.last = usage

    def check(self) -> None:
        """Raise `BudgetExhausted` if a token or dollar budget is already spent."""
        if self.budgets is None:
            return
        b = self.budgets
        limits: tuple[tuple[str, float | None, float], ...] = (
            ("session_tokens", b.session_tokens, self.session.total_tokens),
            ("session_dollars", b.session_dollars, self.session.cost_usd),
            ("run_tokens", b.run_tokens, self.run.total_tokens),
            ("run_dollars", b.run_dollars, self.run.cost_usd),
        )
        for name, limit, used in limits:
            if limit is not None and used >= limit:
                raise BudgetExhausted(name, float(limit), float(used))

    def snapshot(self) -> dict[str, Any]:
        """The totals as JSON-able numbers (for the journal and `harness status`)."""
        return {
            "session": self.session.model_dump(),
            "run": self.run.model_dump(),
            "session_calls": self.session_calls,
            "run_calls": self.run_calls,
        }
