"""A later process of a run counts what earlier processes spent, lost requests included."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts.config import BudgetsConfig
from harness.errors import BudgetExhausted
from harness.journal import Journal
from harness.model import Accounting
from session.wiring import restore_spent

LOST = {"prompt_tokens": 150, "completion_tokens": 0, "total_tokens": 150, "cost_usd": 0.25}


def test_estimates_of_closed_sessions_count_against_a_later_processs_budget(
    fast_path: Path,
) -> None:
    store = Journal.open(fast_path / ".harness")
    run = store.start_run("run")
    run.session(1).close("passing", {"feature": "F001", "estimated": LOST})
    run.session(2)  # open: its replayed steps add their own estimates in the loop
    accounting = Accounting(BudgetsConfig(run_tokens=100))
    restore_spent(accounting, run)
    store.close()
    assert accounting.estimated.total_tokens == 150
    assert accounting.estimated.cost_usd == pytest.approx(0.25)
    with pytest.raises(BudgetExhausted):
        accounting.check_run()
