"""`harness demo` end to end: the question round trip, and the built-in crash with resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.session.support import (
    harness,
    harness_out,
    harness_proc,
    log_json,
    passing,
    progress_sessions,
    session_commits,
)

pytestmark = pytest.mark.slow
ALL = [f"F00{k}" for k in range(1, 9)]


def test_demo_asks_parks_and_finishes_after_the_answer(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    demo = harness_proc(tmp_path, "demo", str(root), "--ask", "--unattended")
    assert demo.returncode == 4, demo.stdout + demo.stderr
    code, out = harness_out(root, "questions", "--json")
    assert code == 0
    questions = json.loads(out)
    assert len(questions) == 1, questions
    assert "Ties in `top`" in json.dumps(questions[0])
    assert harness(root, "answer", "q1", "--choice", "1") == 0
    assert harness(root, "run") == 0
    assert passing(root) == ALL
    assert harness_out(root, "questions", "--json")[1].strip() in ("[]", "")


def test_demo_with_its_crash_ends_all_passing(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    demo = harness_proc(tmp_path, "demo", str(root))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "killed on purpose" in demo.stdout
    assert "8/8 passing" in demo.stdout
    assert passing(root) == ALL
    rerun = [r for r in log_json(root) if r["attempts"] > 1]
    assert [r["attempts"] for r in rerun] == [2]
    assert rerun[0]["kind"] == "tool"
    assert sorted(session_commits(root).values()) == [1] * 8
    assert progress_sessions(root) == {n: 1 for n in range(9)}
