"""End to end: a run parks on a question; the answer given in the TUI lets it finish."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.session.scripted_child import SCRIPTED
from tests.session.support import call, good_turns, harness_run, init, make_project, turn
from tests.tui.test_features import wait_until
from tui.app import HarnessApp
from tui.inbox import InboxPanel
from tui.steps import StepsPanel

ASK = turn(
    call(
        "ask_human",
        question="Ties in `top`: alphabetical with uppercase first, or case-insensitive order?",
        choices=["Python's default order", "case-insensitive order"],
    )
)


@pytest.mark.slow
async def test_answer_in_the_tui_resumes_a_parked_run(tmp_path: Path) -> None:
    """A real init and `harness run --unattended` (in this process) park on the agent's
    question in feature 1 of 2; the `harness run` the TUI starts after the answer is a
    child that answers the scripted model in process (tests.session.scripted_child: the
    gateway is not what this test is about; tests/tui/test_run_key.py runs the TUI's own
    command)."""
    root = make_project(tmp_path / "p", count=2, sessions={1: [ASK, *good_turns(1)]})
    init(root)
    parked = harness_run(root, "run", "--unattended")
    assert parked.returncode == 4, parked.stdout + parked.stderr
    app = HarnessApp(root)
    app.starter.command = [*SCRIPTED, "-C", str(root.absolute()), "run", "--unattended"]
    async with app.run_test(size=(120, 40)) as pilot:
        inbox = app.query_one(InboxPanel)
        await wait_until(pilot, lambda: bool(inbox.questions))
        question = inbox.questions[0]
        await wait_until(pilot, lambda: not app.run_active)
        assert "waiting for a human (`harness run` resumes)" in app.run_status
        if question.kind == "approval":
            await pilot.press("i", "a")
        elif question.choices:
            await pilot.press("i", "1")
        else:
            await pilot.press("i", "t", *"yes, go ahead", "enter")
        await wait_until(pilot, lambda: inbox.questions == [])
        await pilot.press("r")  # the one run the TUI may start: `harness run`, a subprocess
        await wait_until(pilot, lambda: app.starter.last_exit is not None, 240.0)
        assert app.starter.last_exit == 0, (root / ".harness" / "tui-run.log").read_text()[-2000:]
        await wait_until(pilot, lambda: "finished: complete" in app.run_status)

        def all_passing() -> bool:
            summary = str(app.query_one("#features-summary").content)
            passing, total = summary.split(" passing")[0].split("/")
            return passing == total

        await wait_until(pilot, all_passing)  # the feature file is read in its own update


PARKING_RUN = Path(__file__).with_name("parking_run.py")


def parking_run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PARKING_RUN), str(root)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2],
    )  # fmt: skip


@pytest.mark.slow  # 1.15 CPU-s
async def test_answer_in_the_tui_resumes_a_parked_stand_in_run(project: Path) -> None:
    """The same flow on a stand-in run (real journal and ask_human, no session loop)."""
    first = parking_run(project)
    assert first.returncode == 4, first.stderr
    app = HarnessApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        inbox = app.query_one(InboxPanel)
        await wait_until(pilot, lambda: bool(inbox.questions))
        assert "(`harness run` resumes)" in app.run_status and not app.run_active
        assert "why asked: score 0.70 above threshold 0.55" in str(
            app.query_one("#inbox-detail").content
        )
        await pilot.press("i", "2")  # "table"
        await wait_until(pilot, lambda: inbox.questions == [])
        second = parking_run(project)  # what `harness run` does after the answer
        assert second.returncode == 0, second.stderr
        assert "finished with answer table" in second.stdout
        await wait_until(pilot, lambda: "finished: complete" in app.run_status)
        steps = app.query_one(StepsPanel).shown()
        assert ("human", "ask_human", "ok") in steps
