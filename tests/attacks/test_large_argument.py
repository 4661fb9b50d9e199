"""One tool argument of tens of megabytes (a 200 MB one grew the journal by 781 MB, 3.9
times: it was stored whole in the model's answer, the tool call and the next model
call's new messages). Stored once by content: the journal grows by about the argument.
Replayed whole: a resume rebuilds the same transcript from it. Sent as new once: the
transcript over the compaction threshold with nothing old to fold (the argument is recent)
was redacted and journaled whole again at every later model call."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.attacks.support import journal_verifies, project, run, runner_for
from tests.session.support import call, good_turns, harness_out, llm_inputs, steps, turn

MB = 1024 * 1024
SIZE = 30 * MB


def _state_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / ".harness").rglob("*") if p.is_file())


@pytest.mark.slow  # 4.4 CPU-s (bench/suite_census.py)
def test_a_large_argument_is_stored_once(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    runner = runner_for("local", request)
    content = os.urandom(SIZE // 2).hex()  # incompressible text, SIZE characters
    big = turn(call("write_file", path="huge.txt", content=content))
    root = project(tmp_path / "p", runner, sessions={1: [big, *good_turns(1)]})
    before = _state_bytes(root)
    code, report = run(root, tmp_path)
    assert code == 0 and report.get("outcome") == "complete", report
    grown = _state_bytes(root) - before
    assert SIZE <= grown < 1.5 * SIZE, f"the journal grew {grown / SIZE:.2f}x the argument"
    (written,) = [s.seq for s in steps(root) if s.session == 1 and s.name == "write_file"][:1]
    code, shown = harness_out(root, "show", "--json", f"1:{written}")  # read back whole
    assert code == 0 and content in shown
    calls = [inputs for step, inputs in llm_inputs(root) if step.session == 1]
    carrying = [i for i, inputs in enumerate(calls) if content in str(inputs["new_messages"])]
    assert len(calls) > carrying[0] + 1 and len(carrying) == 1, (len(calls), carrying)
    rebuilt = 0  # each call's new messages extend the ones sent before it
    for inputs in calls:
        new = inputs["new_messages"]
        rebuilt = (0 if new[0]["role"] == "system" else rebuilt) + len(new)
        assert inputs["message_count"] == rebuilt
    assert journal_verifies(root)
