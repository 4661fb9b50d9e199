"""The inbox: questions from another process appear; answers, choices, approvals, denials
are stored through the question store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Input

from escalation.questions import QuestionStore, Scores
from tests.tui.test_features import wait_until
from tui.app import HarnessApp
from tui.inbox import InboxPanel, detail
from tui.model import QuestionView

ASK = """
import sys
from pathlib import Path
from escalation.questions import QuestionStore, Scores
store = QuestionStore(Path(sys.argv[1]) / ".harness")
q = store.ask("question", "Which database should the app use?", context="F003 needs storage",
              choices=["sqlite", "postgres"],
              scores=Scores(uncertainty=0.8, novelty=0.6, benefit=0.7, total=0.71),
              reason="score 0.71 above threshold 0.6", step_ref="journal:r/1/4")
print(q.id)
"""


def ask_from_another_process(root: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", ASK, str(root)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def ask(root: Path) -> str:
    """The question ASK asks, asked in this process (before the app starts: no other
    process is needed to see it)."""
    with QuestionStore(root / ".harness") as store:
        q = store.ask(
            "question",
            "Which database should the app use?",
            context="F003 needs storage",
            choices=["sqlite", "postgres"],
            scores=Scores(uncertainty=0.8, novelty=0.6, benefit=0.7, total=0.71),
            reason="score 0.71 above threshold 0.6",
            step_ref="journal:r/1/4",
        )
    return q.id


def gate(root: Path, text: str = "git push origin main") -> str:
    with QuestionStore(root / ".harness") as store:
        q = store.ask(
            "approval",
            f"allow: {text}",
            context="the gate `push` needs approval",
            scores=Scores(uncertainty=0.1, novelty=0.2, benefit=0.9, total=0.4),
            reason="policy gate: push",
        )
    return q.id


def stored(root: Path, question_id: str):  # type: ignore[no-untyped-def]
    with QuestionStore(root / ".harness") as store:
        return store.get(question_id)


def told(app: HarnessApp, words: str) -> bool:
    """The app has shown a notification with these words."""
    return any(words in str(n.message) for n in app._notifications)


@pytest.mark.slow  # 1.4 CPU-s, 4 s
async def test_question_from_another_process_answered_with_text_and_file(
    project: Path,
) -> None:
    (project / "notes.txt").write_text("use sqlite, keep it simple\n")
    app = HarnessApp(project, poll_s=3600.0)  # no poll during the test: file events only
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        inbox = app.query_one(InboxPanel)
        qid = ask_from_another_process(project)
        await wait_until(pilot, lambda: [q.id for q in inbox.questions] == [qid])
        await wait_until(pilot, lambda: "why asked" in str(app.query_one("#inbox-detail").content))
        detail = str(app.query_one("#inbox-detail").content)
        for expected in ("uncertainty 0.80", "novelty 0.60", "benefit 0.70", "total 0.71",
                         "why asked: score 0.71 above threshold 0.6", "1[/] sqlite"):  # fmt: skip
            assert expected in detail
        await pilot.press("i", "f", *"notes.txt", "escape", "t", *"sqlite please", "enter")
        await wait_until(pilot, lambda: stored(project, qid).status == "answered")
        answer = stored(project, qid)
        assert answer.answer == "sqlite please"
        assert answer.files == [f"human_inputs/{qid}/notes.txt"]
        await wait_until(pilot, lambda: inbox.questions == [])
        assert app.query_one("#inbox-answer", Input).value == ""


async def test_choose_with_a_number_key(project: Path) -> None:
    qid = ask(project)
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(app.query_one(InboxPanel).questions))
        await pilot.press("i", "2")
        await wait_until(pilot, lambda: stored(project, qid).status == "answered")
        assert (stored(project, qid).choice, stored(project, qid).answer) == (1, "postgres")


@pytest.mark.slow  # 1.1 CPU-s, 3.7 s (bench/suite_census.py)
async def test_approve_and_deny_gates_with_the_keyboard(project: Path) -> None:
    first, second = gate(project), gate(project, "rm -rf ../other")
    app = HarnessApp(project, poll_s=3600.0)  # no poll during the test: the replies wake it
    async with app.run_test(size=(120, 40)) as pilot:
        inbox = app.query_one(InboxPanel)
        await wait_until(pilot, lambda: len(inbox.questions) == 2)
        assert "APPROVAL" in str(app.query_one("#inbox-detail").content)
        assert "why asked: policy gate: push" in str(app.query_one("#inbox-detail").content)
        await pilot.press("i", "a")
        await wait_until(pilot, lambda: stored(project, first).status == "approved")
        await wait_until(pilot, lambda: [q.id for q in inbox.questions] == [second])
        await pilot.press("d", *"outside the workspace", "enter")
        await wait_until(pilot, lambda: stored(project, second).status == "denied")
        assert stored(project, second).deny_reason == "outside the workspace"
        await wait_until(pilot, lambda: inbox.questions == [])


async def test_enter_on_an_approval_does_not_approve_it(project: Path) -> None:
    qid = gate(project)
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(app.query_one(InboxPanel).questions))
        await pilot.press("i", "t", *"yes", "enter")
        await wait_until(pilot, lambda: told(app, "an approval: press a to approve or d to deny"))
        assert stored(project, qid).status == "pending"


async def test_a_missing_attachment_is_reported_and_nothing_stored(project: Path) -> None:
    qid = ask(project)
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(app.query_one(InboxPanel).questions))
        await pilot.press("i", "f", *"nope.txt", "escape", "t", *"see file", "enter")
        await wait_until(pilot, lambda: told(app, "not stored"))
        assert stored(project, qid).status == "pending"


def test_the_agents_words_are_shown_as_text_not_markup_or_terminal_control() -> None:
    q = QuestionView("q1", "question", "[red]ok[/] \x1b[2Japprove?\x07", choices=("[b]yes\r",))
    shown = Text.from_markup(detail(q)).plain
    assert "[red]ok[/] \\x1b[2Japprove?\\x07" in shown  # the brackets are text, not style
    assert "[b]yes\\r" in shown
    assert not any(char in shown for char in "\x1b\r\x07")
