"""`harness run` in a real terminal (tmux, 80×24): progress lines appear while it runs, a
wait says what for; Ctrl-C exits 130 and `harness run` finishes the job."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.session.scripted_child import SCRIPTED
from tests.session.support import CHILD_S, good_turns, harness, init, make_project, passing
from tests.tui.test_terminal import Terminal


@pytest.fixture(name="terminal")
def _terminal(tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the terminal test needs it")
    term = Terminal(f"harness-run-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield term
    finally:
        term.tmux("kill-server")  # our own server only: it has its own socket


def _slow_project(root: Path, latency_s: float) -> Path:
    turns = good_turns(1)
    turns[2] = {**turns[2], "latency_s": latency_s}  # the model thinks before mark_passing
    return make_project(root, count=1, sessions={1: turns})


def _start(terminal: Terminal, root: Path, *args: str) -> None:
    harness = shlex.join(SCRIPTED)  # scripted models in process: no litellm import
    command = f"{harness} -C {root} run {' '.join(args)}; echo EXITED $?; sleep 60"
    terminal.tmux(
        "new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", "-c", str(root), command
    )


@pytest.mark.slow  # a whole `harness run` process in tmux; its model step takes 4 s
def test_progress_lines_appear_while_the_run_goes(tmp_path: Path, terminal: Terminal) -> None:
    root = _slow_project(tmp_path / "p", latency_s=4.0)
    init(root)
    _start(terminal, root)
    screen = terminal.wait_for(lambda s: "tool verify_feature" in s, timeout=CHILD_S)
    assert "EXITED" not in screen  # seen during the run, not after it
    # the first model call is step 6: after the git snapshot, the feature list's record,
    # init.sh, orient and the brief
    assert "s1 #5 artifact brief" in screen
    assert "s1 #6 model scripted/script.json" in screen and "tokens $" in screen
    assert "harness: session 1 started" in screen
    screen = terminal.wait_for(lambda s: "EXITED 0" in s, timeout=CHILD_S)
    assert "session 1 ended: F001 passing" in screen


def test_quiet_prints_only_the_result(tmp_path: Path, terminal: Terminal) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    _start(terminal, root, "--quiet")
    screen = terminal.wait_for(lambda s: "EXITED 0" in s, timeout=CHILD_S)
    assert "harness run: complete" in screen
    assert " model scripted/script.json " not in screen and "session 1 started" not in screen


@pytest.mark.slow(reason="interrupts its harness child")  # Ctrl-C, then resumed
def test_ctrl_c_exits_130_and_run_finishes(tmp_path: Path, terminal: Terminal) -> None:
    root = _slow_project(tmp_path / "p", latency_s=30.0)
    init(root)
    _start(terminal, root, "--report", str(tmp_path / "r.json"))
    terminal.wait_for(lambda s: "tool verify_feature" in s, timeout=CHILD_S)
    terminal.tmux("send-keys", "-t", "tui", "C-c")
    screen = terminal.wait_for(lambda s: "EXITED" in s, timeout=CHILD_S)
    assert "EXITED 130" in screen
    assert "interrupted" in screen and "Traceback" not in screen

    assert json.loads((tmp_path / "r.json").read_text())["outcome"] == "interrupted"
    slow = json.loads((root / "script.json").read_text())
    for scene in slow["scenes"]:
        for turn in scene["turns"]:
            turn.pop("latency_s", None)
    (root / "script.json").write_text(json.dumps(slow))
    assert harness(root, "run") == 0
    assert passing(root) == ["F001"]
