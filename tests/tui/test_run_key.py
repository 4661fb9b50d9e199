"""The key r: `harness run` in a subprocess, never while a run is active."""

from __future__ import annotations

from pathlib import Path

from tests.tui.test_features import wait_until
from tui.app import HarnessApp


async def test_r_refuses_while_a_run_is_active(project: Path) -> None:
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        app.run_active = True  # as the journal says when a live process holds the run
        await pilot.press("r")
        await pilot.pause(0.1)
        assert app.starter.process is None
        assert any("never drives it" in str(n.message) for n in app._notifications)


async def test_r_starts_harness_run_and_shows_its_exit_code(project: Path) -> None:
    (project / "feature_list.json").write_text('{"version": 1, "features": [}')
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.starter.last_exit is not None, 30.0)
        assert app.starter.last_exit == 2  # the bad feature list: invalid input
        log = (project / ".harness" / "tui-run.log").read_text()
        assert "feature_list.json" in log
        status = str(app.query_one("#status").content)
        assert "last `harness run` from here exited 2" in status
