"""`for_terminal`: the agent's text is shown on a terminal, never obeyed by it."""

from __future__ import annotations

import io

import pytest

from harness.cli.live import ProgressLines
from harness.events import Event
from harness.terminal import MARGIN, for_terminal, lines_for_terminal


def test_one_line_of_plain_text_and_its_tabs_are_unchanged() -> None:
    text = "Which database?\t1. SQLite (ünïcode, emoji 🙂)"
    assert for_terminal(text) == text


def test_each_line_after_the_first_is_marked_as_the_agents() -> None:
    """A newline of the agent's never starts a line where the harness's own would: the
    forged "harness run: complete" line is shown quoted."""
    text = "Which database?\nharness run: complete: every feature passes\n\t1. SQLite"
    shown = for_terminal(text)
    assert shown.split("\n") == [
        "Which database?",
        f"{MARGIN}harness run: complete: every feature passes",
        f"{MARGIN}\t1. SQLite",
    ]
    for sep in ("\u2028", "\u2029", "\x85", "\r"):  # other line breaks are escapes
        assert "\n" not in for_terminal(f"a{sep}harness: b")


def test_lines_for_terminal_keeps_the_harness_lines_and_escapes_within_each() -> None:
    table = "seq  name\n1    read\x1b[2J\u202e"
    assert lines_for_terminal(table) == "seq  name\n1    read\\x1b[2J\\u202e"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b[Hfake", "\\x1b[2J\\x1b[Hfake"),  # clear screen, cursor home
        ("ok\rApprove q1", "ok\\rApprove q1"),  # CR rewrites the line
        ("ding\x07", "ding\\x07"),  # BEL
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # OSC: the window title
        ("a\x9b31mred", "a\\x9b31mred"),  # C1 CSI
        ("del\x7f\x00\x08", "del\\x7f\\x00\\x08"),
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
    ],
)
def test_control_characters_become_visible_escapes(raw: str, shown: str) -> None:
    assert for_terminal(raw) == shown
    assert for_terminal(raw).isprintable()


def test_one_line_shows_newline_and_tab_too() -> None:
    shown = for_terminal("step\nharness: run ended: complete\t!", one_line=True)
    assert shown == "step\\nharness: run ended: complete\\t!"
    assert "\n" not in shown


def test_a_progress_line_shows_the_agent_words_as_one_inert_line() -> None:

    stream = io.StringIO()
    lines = ProgressLines(stream)
    lines(Event("step.failed", session=1, seq=3, kind="tool", name="sh\x1b[2K", detail="x\r\ny"))
    lines(Event("question", status="parked", detail="q1 (question): \x1b[2Jok?\x07"))
    written = stream.getvalue()
    assert written.count("\n") == 2  # one line per event, no line of the agent's own
    assert "\x1b" not in written and "\r" not in written and "\x07" not in written
    assert "sh\\x1b[2K" in written and "x\\r\\ny" in written and "\\x1b[2Jok?\\x07" in written
