"""The TUI follows the run's process and shows what it waits for, at 80×24 and 200×60:
a killed run is interrupted within a poll (no file changes when a process dies), `r` is
not refused for a run that is gone, a parked run and a live run waiting on a question say
so in the header, the question's choices and keys are on screen, and the agent's text is
shown as text ("[x]" stays "[x]")."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from artifacts.feature_list import dump_feature_list
from tests.tui.conftest import make_features
from tests.tui.test_features import wait_until
from tui.app import HarnessApp
from tui.inbox import InboxPanel

HERE = Path(__file__).parent
SIZES = [(80, 24), (200, 60)]
TEXT = re.compile(r'<text[^>]* x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')
HOLDER = """
import sys, time
from pathlib import Path
from harness.journal import Journal
journal = Journal.open(Path(sys.argv[1]) / ".harness")
run = journal.start_run()
run.session(1).step("tool", "read_file", {"path": "SPEC.md"}, lambda: {"ok": True})
print("holding", flush=True)
time.sleep(600)
"""


def screen_text(app: HarnessApp) -> str:
    """What the terminal shows (clipping included): the screenshot's text, row by row."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in TEXT.findall(app.export_screenshot()):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return "\n".join("".join(t for _, t in sorted(rows[y])) for y in sorted(rows))


def start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv], stdout=subprocess.PIPE, text=True, cwd=HERE.parents[1]
    )


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "200x60"])
@pytest.mark.slow  # 1.2 CPU-s each
async def test_a_killed_run_shows_interrupted_and_r_is_not_refused(
    project: Path, size: tuple[int, int]
) -> None:
    holder = start("-c", HOLDER, str(project))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        app = HarnessApp(project, poll_s=0.2)
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: app.run_active)
            assert f"running (pid {holder.pid})" in app.run_status
            holder.kill()  # by its handle: the process this test started
            holder.wait()
            # No file changes when a process dies: the state follows the process.
            await wait_until(pilot, lambda: not app.run_active)
            assert "interrupted (`harness run` resumes)" in app.run_status
            await pilot.press("r")
            await wait_until(pilot, lambda: app.starter.last_exit is not None, 60.0)
            assert not any("never drives it" in str(n.message) for n in app._notifications)
            status = app.query_one("#status")
            await wait_until(pilot, lambda: "exited" in str(status.content))
            assert ".harness/tui-run.log" in str(status.content)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.parametrize(
    "size",
    [SIZES[0], pytest.param(SIZES[1], marks=pytest.mark.slow)],  # 200x60: 1.1 CPU-s
    ids=["80x24", "200x60"],
)
async def test_parked_run_choices_keys_and_text_as_text(
    project: Path, size: tuple[int, int]
) -> None:
    features = make_features(3, 1)
    features.features[1].description = "tick [x] the box"
    (project / "feature_list.json").write_text(dump_feature_list(features))
    argv = [sys.executable, str(HERE / "parking_run.py"), str(project)]
    parked = subprocess.run(
        [*argv, "--text", "Use [x] or [b]y[/b]?"],
        capture_output=True, text=True, timeout=60, cwd=HERE.parents[1],
    )  # fmt: skip
    assert parked.returncode == 4, parked.stderr
    app = HarnessApp(project, poll_s=0.2)
    async with app.run_test(size=size) as pilot:
        inbox = app.query_one(InboxPanel)
        await wait_until(pilot, lambda: bool(inbox.questions))
        await wait_until(pilot, lambda: "waiting for a human" in app.run_status)
        expected = [
            "waiting for a human",  # in the header
            "1 JSON", "2 table",  # the choices
            "1-9 choose", "t type an answer",  # the keys
            "Use [x] or [b]y[/b]?",  # the agent's words, as written
        ]  # fmt: skip
        if size[0] >= 200:  # at 80 columns the description column is cut before it
            expected.append("tick [x]")
        # The screen is drawn in parts: wait until all of it shows (or fail, naming what not).
        await wait_until(pilot, lambda: all(e in screen_text(app) for e in expected))
        shown = screen_text(app)
        assert [e for e in expected if e not in shown] == []


@pytest.mark.slow  # 1.3 CPU-s (bench/suite_census.py)
async def test_a_live_run_waiting_on_a_question_says_so_in_the_header(project: Path) -> None:
    asker = start(str(HERE / "parking_run.py"), str(project), "--wait")
    try:
        app = HarnessApp(project, poll_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            inbox = app.query_one(InboxPanel)
            await wait_until(pilot, lambda: bool(inbox.questions) and app.run_active)
            await wait_until(pilot, lambda: "waiting for your answer" in str(
                app.query_one("#status").content), 5.0)  # fmt: skip
            assert f"waiting for your answer to {inbox.questions[0].id}" in screen_text(app)
            await pilot.press("i", "1")
            assert asker.wait(timeout=60) == 0
            await wait_until(pilot, lambda: "finished: complete" in app.run_status)
    finally:
        if asker.poll() is None:
            asker.kill()
            asker.wait()
