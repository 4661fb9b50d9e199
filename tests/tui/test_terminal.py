"""The real program in a real terminal: tmux runs `harness tui -C DIR`, we read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui.test_features import LIVENESS_S
from tests.tui.test_inbox import gate, stored


class Terminal:
    """One private tmux server (its own socket) with one 120x40 window."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "tui")

    def wait_for(self, condition: Callable[[str], bool], timeout: float = LIVENESS_S) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never matched; last screen:\n{text}")
            time.sleep(0.1)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the terminal test needs it")
    term = Terminal(f"harness-tui-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield term
    finally:
        term.tmux("kill-server")  # our own server only: it has its own socket


def test_real_program_shows_and_approves(project: Path, terminal: Terminal) -> None:
    qid = gate(project)
    command = f"{sys.executable} -m harness tui -C {project}; echo EXITED $?; sleep 30"
    terminal.tmux(
        "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", "-c", str(project), command
    )
    screen = terminal.wait_for(lambda s: "Inbox (1 pending)" in s and "2/6 passing" in s)
    assert "allow: git push origin main" in screen
    assert "why asked: policy gate: push" in screen
    assert "Steps (live)" in screen and "Runner" in screen
    terminal.tmux("send-keys", "-t", "tui", "a")  # the inbox list has the focus at start
    terminal.wait_for(lambda s: "no pending questions" in s)
    assert stored(project, qid).status == "approved"
    terminal.tmux("send-keys", "-t", "tui", "q")
    # It quits (a hang never prints EXITED); how fast is not a test's to time.
    screen = terminal.wait_for(lambda s: "EXITED 0" in s)
