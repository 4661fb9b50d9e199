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


# Loaded by every new interpreter the demo starts (through PYTHONPATH, which the demo's
# children keep): each that imports litellm writes a line.
LITELLM_SPY = """\
import os, sys
class _Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "litellm":
            try:
                with open({log!r}, "a") as log:
                    log.write(f"{{os.getpid()}} {{sys.argv}}\\n")
            except OSError:
                pass
        return None
sys.meta_path.insert(0, _Spy())
"""


def test_demo_with_its_crash_ends_all_passing(tmp_path: Path) -> None:
    """... and its `harness` children (init, the killed run, the resumed run) import
    litellm in no new interpreter: they are forks of the demo, which loaded it once."""
    root = tmp_path / "demo"
    spy, log = tmp_path / "spy", tmp_path / "litellm-imports.log"
    spy.mkdir()
    (spy / "sitecustomize.py").write_text(LITELLM_SPY.format(log=str(log)))
    demo = harness_proc(tmp_path, "demo", str(root), env={"PYTHONPATH": str(spy)})
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert not log.exists(), log.read_text()
    assert "killed on purpose" in demo.stdout
    assert "8/8 passing" in demo.stdout
    assert passing(root) == ALL
    rerun = [r for r in log_json(root) if r["attempts"] > 1]
    assert [r["attempts"] for r in rerun] == [2]
    assert rerun[0]["kind"] == "tool"
    assert sorted(session_commits(root).values()) == [1] * 8
    assert progress_sessions(root) == {n: 1 for n in range(9)}
