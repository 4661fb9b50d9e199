"""The independent evaluator's scripted verdicts: pass (in test_verified_done.py and the
demo), fail with reasons (test_verified_done.py), malformed answers, budgets, and a crash
mid-evaluation whose resume pays for nothing twice.

Real `harness run`s on the local runner; the worker and the evaluator are the scripted
model (the evaluator's scene is matched on its own first message: it shares nothing of the
worker's context).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.journal import Journal
from tests.attacks.support import committed_passing, run
from tests.session.support import call, harness_proc, harness_run, steps, tool_outputs, turn
from tests.session.verify_support import (
    COUNT_TEST,
    HONEST_COUNT,
    PYTEST,
    pytest_project,
    review_scene,
    runner,
    verdict,
    verify_and_mark,
    write,
)

ON = '[budgets]\nrun_sessions = 1\n\n[protect]\npaths = ["tests/acceptance"]\n\n[evaluator]\n'
CHECK = f"{PYTEST} tests/acceptance"
PASSED = "count.py counts the words of its file; the acceptance test checks the number"

pytestmark = pytest.mark.slow  # whole `harness run`s, each some seconds


def counting(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    review: list[dict[str, Any]],
    evaluator: str = 'mode = "on"\n',
) -> Path:
    """An honest session on the word counter, reviewed by the scripted ``review``."""
    turns = [write("count.py", HONEST_COUNT), *verify_and_mark()]
    return pytest_project(
        tmp_path / "p",
        runner("local", request),
        sessions={1: turns},
        check=CHECK,
        files={"tests/acceptance/test_count.py": COUNT_TEST},
        toml=ON + evaluator,
        reviews=[review_scene("F001", review)],
    )


def evaluator_steps(root: Path) -> list[Any]:
    return [s for s in steps(root) if s.kind == "evaluator" or s.name.startswith("evaluator:")]


def test_a_malformed_verdict_is_answered_and_a_good_one_then_counts(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    good = verdict(True, PASSED)
    root = counting(tmp_path, request, [{**good, "fault": "bad_tool_args"}, good])
    code, report = run(root, tmp_path)
    assert code == 0, report
    assert report["proofs"]["F001"] == ["check", "clean", "fails-before", "evaluator"]
    names = [(s.kind, s.name) for s in evaluator_steps(root)]
    assert names.count(("evaluator", "verdict")) == 2  # the spoiled call, then the good one
    assert ("evaluator", "verdict:F001") in names


def test_no_verdict_keeps_the_feature_failing(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Prose, then prose after the reminder: no verdict, so no pass (it fails closed)."""
    prose = {"text": "Looks fine to me."}
    root = counting(tmp_path, request, [prose, prose])
    code, report = run(root, tmp_path)
    assert code != 0, report
    assert committed_passing(root) == []
    (refused,) = tool_outputs(root, "mark_passing")
    assert "gave no verdict" in refused and "without a verdict" in refused, refused


def test_the_evaluator_stops_at_its_step_budget(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    looks = [turn(call("run", command=f"echo look {i}")) for i in range(6)]
    root = counting(tmp_path, request, looks, evaluator='mode = "on"\nmax_steps = 4\n')
    code, report = run(root, tmp_path)
    assert code != 0, report
    (refused,) = tool_outputs(root, "mark_passing")
    assert "within its budget ([evaluator] max_steps = 4)" in refused, refused
    assert len([s for s in evaluator_steps(root) if s.kind == "llm"]) == 2


def test_the_evaluator_runs_commands_on_its_own_clean_checkout(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """It runs the session's program as a user would (`python3 count.py` on a file it wrote
    in its own /tmp), in a fresh sandbox on a checkout of its own, not in the project."""
    look = turn(
        call("run", command="printf 'a b c d\\n' > /tmp/w && python3 count.py /tmp/w && pwd")
    )
    root = counting(tmp_path, request, [look, verdict(True, PASSED)])
    code, report = run(root, tmp_path)
    assert code == 0, report

    with Journal.open_readonly(root / ".harness") as journal:
        (ran,) = [s for s in journal.steps() if (s.kind, s.name) == ("evaluator", "run")]
        detail = journal.step_detail(ran.run_id, ran.session, ran.seq)
    assert detail is not None
    output = str(detail.output["output"])
    assert "exit code: 0" in output and "\n4\n" in output, output
    assert str(root) not in output  # not the project: a checkout of its own


def test_a_crash_mid_evaluation_resumes_without_paying_twice(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SIGKILL inside the evaluator's second model call; `harness run` again: the first
    call, its command and the proofs replay from the journal (each ran once), the second
    call runs again, and the verdict passes the feature."""
    look = turn(call("run", command="echo looked"))
    root = counting(tmp_path, request, [look, verdict(True, PASSED)])
    model = "evaluator:scripted/script.json"
    crashed = harness_proc(root, "run", "--unattended", crash_in=f"llm:{model}#2")
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert committed_passing(root) == []
    resumed = harness_run(root, "run", "--unattended")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert committed_passing(root) == ["F001"]
    rows = {(s.kind, s.name, s.seq): s for s in steps(root) if s.status == "ended"}
    llm = sorted((seq, s) for (kind, name, seq), s in rows.items() if name == model)
    assert [s.attempts for _, s in llm] == [1, 2], "the first call was paid for again"
    once = [s for (kind, name, _), s in rows.items() if kind in ("runner", "evaluator")]
    assert once and all(s.attempts == 1 for s in once if s.name != "mark_passing"), [
        (s.kind, s.name, s.attempts) for s in once
    ]
    mark = [s for (kind, name, _), s in rows.items() if (kind, name) == ("tool", "mark_passing")]
    assert [s.attempts for s in mark] == [2]  # in flight at the crash: it ran on, nested
