"""The step stream follows a journal written by another process; sessions and runner too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.tui.test_features import LIVENESS_S, wait_until
from tui.app import HarnessApp
from tui.runner import RunnerPanel
from tui.sessions import SessionsPanel
from tui.steps import MAX_ROWS, StepsPanel

WRITER = Path(__file__).with_name("journal_writer.py")


def writer(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(root), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )


async def test_step_written_by_another_process_appears(project: Path) -> None:
    app = HarnessApp(project, poll_s=3600.0)  # no poll during the test: file events only
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        panel = app.query_one(StepsPanel)
        assert panel.shown() == []  # no journal yet
        release = project / "release-slow-step"  # the slow step runs until the test says
        child = writer(project, "3", "--slow-step", "600", "--until", str(release))
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "slow started"
            # How soon it shows (target 1 s) is measured by bench/tui.py, not here.
            await wait_until(pilot, lambda: ("llm", "slow_call", "running") in panel.shown())
            assert panel.shown()[:3] == [("tool", f"write_file_{i}", "ok") for i in range(3)]
            release.touch()
            await wait_until(pilot, lambda: ("llm", "slow_call", "ok") in panel.shown())
            assert len(panel.shown()) == 4  # the running row was updated, not added again
            assert child.wait(LIVENESS_S) == 0
        finally:
            if child.poll() is None:
                child.kill()  # the child this test started, by its handle
                child.wait()
        sessions = app.query_one(SessionsPanel)
        await wait_until(pilot, lambda: [s.outcome for s in sessions.sessions] == ["passing"])
        assert sessions.sessions[0].steps == 4
        assert sessions.sessions[0].tokens == 305


async def test_runner_failure_sessions_and_bounded_stream(project: Path) -> None:
    child = writer(project, str(MAX_ROWS + 100), "--runner-failure", "--sessions", "2")
    assert child.wait(LIVENESS_S) == 0
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        runner = app.query_one(RunnerPanel)
        await wait_until(pilot, lambda: runner.view.last_failure is not None)
        text = str(runner.content)
        assert "oom" in text and "memory_mb=512" in text and "pytest -q" in text
        assert len(app.query_one(StepsPanel).shown()) <= MAX_ROWS
        sessions = app.query_one(SessionsPanel)
        assert [s.number for s in sessions.sessions] == [1, 2]
        assert sessions.sessions[1].steps == (MAX_ROWS + 100) // 2 + 1
        chart = str(app.query_one("#sessions-chart").content)
        assert "s1..s2, now 2/6" in chart
        assert "(`harness run` resumes)" in app.run_status and not app.run_active
