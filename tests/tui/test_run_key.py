"""The key r: `harness run` in a subprocess, never while a run is active."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from tests.tui.test_features import wait_until
from tui.app import HarnessApp
from tui.starter import RunStarter


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


def test_quitting_stops_waiting_but_leaves_the_run_going(tmp_path: Path) -> None:
    starter = RunStarter(tmp_path)
    starter.command = [sys.executable, "-c", "import time; time.sleep(30)"]
    codes: list[int] = []
    waiter = threading.Thread(target=lambda: codes.append(starter.run()))
    waiter.start()
    try:
        for _ in range(100):
            if starter.running():
                break
            time.sleep(0.02)
        assert starter.running()
        started = time.monotonic()
        starter.stop_waiting()
        waiter.join(2.0)
        assert codes == [-1] and time.monotonic() - started < 1.0
        assert starter.running()  # the run is not the TUI's to stop
    finally:
        assert starter.process is not None
        starter.process.kill()  # the child this test started, by its handle
        starter.process.wait()
