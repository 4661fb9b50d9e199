"""End to end: a run parks on a question; the answer given in the TUI lets it finish."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.tui.test_features import wait_until
from tui.app import HarnessApp
from tui.inbox import InboxPanel

pytestmark = pytest.mark.slow


def harness(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=timeout
    )


async def test_answer_in_the_tui_resumes_a_parked_run(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    parked = harness("demo", str(root), "--ask", "--unattended", "--no-crash")
    if parked.returncode != 4:
        pytest.skip(
            "the pipeline cannot park a run yet: `harness demo DIR --ask --unattended` "
            f"exited {parked.returncode}, not 4: {(parked.stderr or parked.stdout)[-300:]}"
        )
    app = HarnessApp(root)
    async with app.run_test(size=(120, 40)) as pilot:
        inbox = app.query_one(InboxPanel)
        await wait_until(pilot, lambda: bool(inbox.questions), 5.0)
        question = inbox.questions[0]
        await wait_until(pilot, lambda: not app.run_active, 5.0)
        assert "parked or stopped" in app.run_status
        if question.kind == "approval":
            await pilot.press("i", "a")
        elif question.choices:
            await pilot.press("i", "1")
        else:
            await pilot.press("i", "t", *"yes, go ahead", "enter")
        await wait_until(pilot, lambda: inbox.questions == [], 5.0)
        await pilot.press("r")  # the one run the TUI may start: `harness run`, a subprocess
        await wait_until(pilot, lambda: app.starter.last_exit is not None, 240.0)
        assert app.starter.last_exit == 0, (root / ".harness" / "tui-run.log").read_text()[-2000:]
        await wait_until(pilot, lambda: "finished: complete" in app.run_status, 5.0)
        summary = str(app.query_one("#features-summary").content)
        passing, total = summary.split("[/]")[0].removeprefix("[b]").split("/")
        assert passing == total
