"""The key r: `harness run` in a subprocess, never while a run is active."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from tests.tui.test_features import LIVENESS_S, wait_until
from tui.app import HarnessApp
from tui.starter import RunStarter


def status(app: HarnessApp) -> str:
    return str(app.query_one("#status").content)


def refused(app: HarnessApp) -> bool:
    return any("never drives it" in str(n.message) for n in app._notifications)


async def test_r_refuses_while_a_run_is_active(project: Path) -> None:
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        app.run_active = True  # as the journal says when a live process holds the run
        await pilot.press("r")
        await wait_until(pilot, lambda: refused(app), LIVENESS_S)  # the notice a user sees
        assert app.starter.process is None


async def test_r_starts_harness_run_and_shows_its_exit_code(project: Path) -> None:
    (project / "feature_list.json").write_text('{"version": 1, "features": [}')
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        await pilot.press("r")
        # What a user sees: the status line saying how the run ended (not the starter's
        # own field, which is set before the line is drawn).
        await wait_until(pilot, lambda: "from here exited" in status(app), LIVENESS_S)
        assert "last `harness run` from here exited 2" in status(app)  # bad feature list
        assert app.starter.last_exit == 2
        log = (project / ".harness" / "tui-run.log").read_text()
        assert "feature_list.json" in log


def test_quitting_stops_waiting_but_leaves_the_run_going(tmp_path: Path) -> None:
    starter = RunStarter(tmp_path)
    # A run that outlives any deadline here: the waiter can only end by stopping to wait.
    starter.command = [sys.executable, "-c", "import time; time.sleep(3600)"]
    codes: list[int] = []
    waiter = threading.Thread(target=lambda: codes.append(starter.run()))
    waiter.start()
    try:
        deadline = time.monotonic() + LIVENESS_S
        while not starter.running() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert starter.running()
        starter.stop_waiting()
        waiter.join(LIVENESS_S)
        assert not waiter.is_alive() and codes == [-1]
        assert starter.running()  # the run is not the TUI's to stop
    finally:
        assert starter.process is not None
        starter.process.kill()  # the child this test started, by its handle
        starter.process.wait()
