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
        self.estimated = Usage()
        """Requests in flight at a crash (possibly billed, never answered), estimated from
        their size; counted against the budgets, reported apart from the measured usage."""
        self.session_estimated = Usage()

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

    def restore(
        self,
        *,
        tokens: int = 0,
        cost_usd: float = 0.0,
        session_tokens: int = 0,
        session_cost_usd: float = 0.0,
    ) -> None:
        """Set the run (and session) totals from recorded numbers, e.g. on resume."""
        self.run = Usage(total_tokens=tokens, cost_usd=cost_usd)
        self.session = Usage(total_tokens=session_tokens, cost_usd=session_cost_usd)

    def start_session(self) -> None:
        """Start counting a new session; the run totals carry on."""
        self.session = Usage()
        self.session_calls = 0
        self.last = None
        self.session_estimated = Usage()

    new_session = start_session

    @property
    def run_usage(self) -> Usage:
        return self.run

    @property
    def session_usage(self) -> Usage:
        return self.session

    def add(self, usage: Usage, *, estimated: Usage | None = None) -> None:
        """Count one call's usage in the session and the run; `estimated`: a lost request
        of the same turn (in flight at a crash) that the provider may have billed."""
        self.session = self.session + usage
        self.run = self.run + usage
        self.session_calls += 1
        self.run_calls += 1
        self.last = usage
        if estimated is not None:
            self.add_estimate(estimated)

    def add_estimate(self, estimated: Usage) -> None:
        """Count a possibly billed, never answered request (an estimate) in the budgets."""
        self.estimated = self.estimated + estimated
        self.session_estimated = self.session_estimated + estimated

    def check(self) -> None:
        """Raise `BudgetExhausted` if a session or run token/dollar budget is spent."""
        self.check_session()
        self.check_run()

    def check_session(self) -> None:
        """Raise `BudgetExhausted` if the session's token or dollar budget is spent."""
        if self.budgets is not None:
            b = self.budgets
            est = self.session_estimated
            _check("session_tokens", b.session_tokens, self.session.total_tokens + est.total_tokens)
            _check("session_dollars", b.session_dollars, self.session.cost_usd + est.cost_usd)

    def check_run(self) -> None:
        """Raise `BudgetExhausted` if the run's token or dollar budget is spent."""
        if self.budgets is not None:
            b = self.budgets
            est = self.estimated
            _check("run_tokens", b.run_tokens, self.run.total_tokens + est.total_tokens)
            _check("run_dollars", b.run_dollars, self.run.cost_usd + est.cost_usd)

    def snapshot(self) -> dict[str, Any]:
        """The totals as JSON-able numbers (for the journal and `harness status`)."""
        return {
            "session": self.session.model_dump(),
            "run": self.run.model_dump(),
            "session_calls": self.session_calls,
            "run_calls": self.run_calls,
            "estimated": self.estimated.model_dump(),
        }


def _check(name: str, limit: float | None, used: float) -> None:
    """A budget is spent when what was used reaches the limit (None: no limit)."""
    if limit is not None and used >= limit:
        raise BudgetExhausted(name, float(limit), float(used))
