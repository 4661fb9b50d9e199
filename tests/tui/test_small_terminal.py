"""The TUI at 80×24 on a project that really ran: feature rows visible, the runner in use,
`?` help, a step's detail on enter, sessions that ended say how."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.session.support import harness, init, make_project
from tests.tui.test_features import wait_until
from tui.app import HarnessApp
from tui.runner import RunnerPanel
from tui.screens import HelpScreen, StepDetailScreen
from tui.sessions import SessionsPanel


@pytest.mark.slow  # 2.5 CPU-s (bench/suite_census.py)
async def test_80x24_shows_rows_runner_help_and_step_detail(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=2)
    init(root)
    assert harness(root, "run") == 0
    app = HarnessApp(root, poll_s=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        table = app.query_one("#features-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2)
        await pilot.pause()
        shown = app.export_screenshot()  # what the terminal shows, clipping included
        assert "F001" in shown and "F002" in shown
        assert app.screen.has_class("compact")
        runner = app.query_one(RunnerPanel)
        await wait_until(pilot, lambda: bool(runner.view.in_use))
        assert "local runner (NOT a sandbox)" in str(runner.content)
        assert "this run" in app.run_status and "tokens $" in app.run_status
        sessions = app.query_one(SessionsPanel)
        assert {s.outcome for s in sessions.sessions} == {"complete", "passing"}

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "this help" in str(app.screen.query_one("#help-text").content)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("s")
        steps = app.query_one("#steps-table", DataTable)
        await wait_until(pilot, lambda: steps.row_count > 0)
        steps.move_cursor(row=0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, StepDetailScreen))
        text = str(app.screen.query_one("#step-detail-text").content)
        assert "inputs" in text and ("output" in text or "error" in text)
        await pilot.press("escape")
        assert not isinstance(app.screen, StepDetailScreen)
