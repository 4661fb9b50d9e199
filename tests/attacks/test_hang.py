"""A command leaves a detached child holding its output pipe open (and ignoring
SIGTERM): the harness must not wait for it. The child writes `sleeper-done` when it
ends, 40 s later; if the run waited for it, the file is there when the run returns.
(No timing is measured: the file says which came first.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import RUNNERS, end_background, project, runner_for, runner_params
from tests.session.support import call, good_turns, harness_proc, tool_outputs, turn

MARK = "sleeper-3c9e"
SLEEPER = (
    f"setsid sh -c 'trap \"\" TERM; echo $$ > sleeper.pid; sleep 40; touch sleeper-done # {MARK}' &"
    " echo detached"
)


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_a_detached_child_holding_the_output_open_does_not_hold_the_run(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [turn(call("run", command=SLEEPER, timeout_s=5)), *good_turns(1)]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    try:
        done = harness_proc(root, "run", "--unattended")
        assert not (root / "sleeper-done").exists(), "the run waited for the detached child"
        assert tool_outputs(root, "run"), done.stderr
    finally:
        end_background(runner, root / "sleeper.pid", MARK)
