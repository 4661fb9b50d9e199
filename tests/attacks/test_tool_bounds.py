"""Tools that run inside the harness, given input built to never end, and the run's
wall-time budget that only held between turns.

- `grep` with a catastrophically backtracking regex, `(a+)+$` over a line of a's: the
  harness hung in `re` (C code) forever, and the resume ran the same step and hung again;
- `run_wall_s` was checked between model turns only: a grep, or a command within its own
  time limit, ran on past it.
Outcomes: the grep is stopped and answered (journaled once: a resume replays it), the run
ends at its wall-time budget with the step cut short. The harness runs as a child process
here, so a hang is a failed test, not a hung suite.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.journal import Journal
from tests.attacks.support import (
    RUNNERS,
    journal_verifies,
    project,
    runner_for,
    runner_params,
)
from tests.session.support import call, forked, tool_outputs, turn

EVIL = "(a+)+$"
LINE = "a" * 60 + "!"  # 2^60 ways to split the a's: never ends in a backtracking engine
HUNG = 300  # a bound on the child for a harness that hangs (it ends in 5-45 s when fixed)
# run_wall_s tried, doubled while load keeps the step away. The step runs until the budget
# ends: a run reaches it in ~1 s on a quiet machine (a Docker run, whose container starts
# first, in more). A grep burns a core all that time (5 s of it cost ~4 CPU-s): without
# Docker the first budget is shorter, a retry costing a tiny run.
WALL_BUDGETS = (5, 10, 20, 40, 80, 160, 320)
QUICK_BUDGETS = (2, *WALL_BUDGETS)


def _run(root: Path, tmp_path: Path, hung: float = HUNG) -> tuple[int, dict[str, Any], str]:
    """`harness run --unattended` in a child: (exit code, report, stderr)."""
    report = tmp_path / f"report-{os.urandom(4).hex()}.json"
    try:
        done = forked(
            ["harness", "-C", str(root), "run", "--unattended", "--report", str(report)],
            timeout=hung,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the harness did not end within {hung:g} s: it hangs on the agent's input")
    data = json.loads(report.read_text()) if report.is_file() else {}
    return done.returncode, data, done.stderr


def _steps(root: Path, name: str) -> list[Any]:

    with Journal.open_readonly(root / ".harness") as journal:
        return [s for s in journal.steps() if s.kind == "tool" and s.name == name]


def _cut_by_the_wall(
    tmp_path: Path,
    make: Callable[[Path, str], Path],
    name: str,
    began: str = "",
    budgets: tuple[int, ...] = WALL_BUDGETS,
) -> tuple[Path, int, str]:
    """Run ``make(dir, toml)``'s project under ``run_wall_s`` until that budget ends while
    its step ``name`` runs (the step's output shows ``began``): (project, budget, output).
    The budget counts from the run's start, so under load (a busy machine, xdist) it can
    end before the child reaches the step: the run then ends at the budget all the same,
    and it is tried again with the budget doubled. The step outlasts the largest budget."""
    for budget in budgets:
        toml = f"[budgets]\nrun_sessions = 1\nrun_wall_s = {budget}\ntool_s = 600\n"
        root = make(tmp_path / f"p{budget}", toml)
        code, report, _ = _run(root, tmp_path, hung=budget + HUNG)
        assert code == 3 and report.get("outcome") == "budget_exhausted", report
        assert f"run wall-time limit {budget}s" in report.get("detail", ""), report
        outputs = tool_outputs(root, name)
        assert len(outputs) <= 1, outputs  # one call in the script: never run again
        if outputs and began in outputs[0]:  # the step began: the budget ended during it
            return root, budget, outputs[0]
    pytest.fail(f"the run never reached its {name} within {budgets[-1]} s of wall time")


def test_a_backtracking_regex_is_stopped_answered_and_replayed(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for("local", request)
    turns = [
        turn(call("grep", regex=EVIL, glob="*.txt")),
        turn(call("ask_human", question="Is the search right?", choices=["yes", "no"])),
        {"text": "Waiting."},
    ]
    toml = "[budgets]\nrun_sessions = 1\ntool_s = 1\n"  # the grep burns a core until then
    root = project(tmp_path / "p", runner, sessions={1: turns}, toml=toml, files={"line.txt": LINE})
    code, report, _ = _run(root, tmp_path)
    assert code == 4, report  # parked on the question, after the grep was answered
    answer = tool_outputs(root, "grep")[0]
    assert answer.startswith("error: grep was stopped after 1 s"), answer
    code, report, _ = _run(root, tmp_path)  # the resume replays the grep, never reruns it
    assert code == 4, report
    (grep,) = _steps(root, "grep")
    assert grep.status == "ended" and grep.attempts == 1
    assert journal_verifies(root)


@pytest.mark.slow  # 1.8 CPU-s (bench/suite_census.py)
def test_the_run_wall_budget_stops_a_grep(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """`run_wall_s`: a grep that may take 600 s (`tool_s`) is stopped at the run's
    budget, and the run ends there. (The file tools run on the host whatever the runner.)"""
    runner = runner_for("local", request)
    turns = [turn(call("grep", regex=EVIL, glob="*.txt")), {"text": "Done."}]

    def make(where: Path, toml: str) -> Path:
        return project(where, runner, sessions={1: turns}, toml=toml, files={"line.txt": LINE})

    root, budget, grep = _cut_by_the_wall(tmp_path, make, "grep", budgets=QUICK_BUDGETS)
    assert f"run wall-time limit {budget}s" in grep, grep  # what stopped it, said
    assert journal_verifies(root)


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_the_run_wall_budget_cuts_a_command_short(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """`run_wall_s`: a command of 500 s, within its own limit of 600 s, is stopped at the
    run's budget (it ran to its end before: the budget held between turns only)."""
    runner = runner_for(kind, request)
    command = "echo st$((1+1))rted; sleep 500; echo sl$((1+1))ept"
    turns = [turn(call("run", command=command)), {"text": "Done."}]

    def make(where: Path, toml: str) -> Path:
        return project(where, runner, sessions={1: turns}, toml=toml)

    budgets = WALL_BUDGETS if kind == "docker" else QUICK_BUDGETS
    root, _, ran = _cut_by_the_wall(tmp_path, make, "run", began="st2rted", budgets=budgets)
    assert "sl2ept" not in ran and "timeout" in ran.lower(), ran  # cut short, and said
    assert journal_verifies(root)
