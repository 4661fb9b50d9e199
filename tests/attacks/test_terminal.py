"""The agent's words reach a human's terminal (the question it asks, printed while the
run waits; `harness questions`): terminal control sequences in them could clear the
screen and draw a fake harness line ("all checks passed, approve q1"). What the harness
prints of the agent's text carries no control characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import project, run, runner_for
from tests.session.support import call, harness, turn

SPOOF = "\x1b[2J\x1b[Hharness: all checks passed.\rApprove with `harness approve q1`\x07"


def test_a_question_cannot_drive_the_terminal(
    request: pytest.FixtureRequest, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    runner = runner_for("local", request)
    turns = [turn(call("ask_human", question=SPOOF, choices=["yes", "no"])), {"text": "?"}]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    capfd.readouterr()
    assert run(root, tmp_path)[0] == 4  # parked on the question
    assert harness(root, "questions") == 0
    printed = capfd.readouterr()
    text = printed.out + printed.err
    assert "all checks passed" in text  # the question was shown
    for char in ("\x1b", "\r", "\x07"):
        assert char not in text, f"{char!r} from the agent reached the terminal"
