"""Projects for the proofs of verified done (issue 24): tiny projects whose checks are pytest
tests, on the local or bubblewrap runner, with a scripted worker and a scripted evaluator.

The worker's scene is matched on `Session N: Feature F00k`, the evaluator's on its own
first message, `Review of feature F00k`: each starts from a fresh context.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.support import Runner, project, runner_for
from tests.session.support import call, turn

NO_PLUGINS = "--disable-plugin-autoload"
"""None of the plugins this venv installs for its own suite (xdist, asyncio, anyio,
platformdirs): the checks' tiny projects use none, and loading them is a third of each
check's CPU (~0.1 of ~0.3 CPU-s)."""
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider {NO_PLUGINS}"
# The sample goes to a folder of tempfile's, not pytest's tmp_path: a check's pytest that
# makes a numbered /tmp/pytest-of-<user>/pytest-N also deletes the old ones beyond three,
# whole (every test folder an earlier suite left: one local check of ci63 waited 104 s).
COUNT_TEST = (
    "import subprocess, sys, tempfile\n\n\n"
    "def test_counts_words():\n"
    "    with tempfile.TemporaryDirectory() as folder:\n"
    "        sample = f'{folder}/sample.txt'\n"
    "        with open(sample, 'w') as out:\n"
    "            out.write('one two three\\n')\n"
    "        done = subprocess.run([sys.executable, 'count.py', sample],\n"
    "                              capture_output=True, text=True)\n"
    "    assert done.stdout.strip() == '3'\n"
)
HONEST_COUNT = "import sys\n\nprint(len(open(sys.argv[1]).read().split()))\n"
HARD_CODED = "print(3)\n"


def runner(kind: str, request: pytest.FixtureRequest) -> Runner:
    return runner_for(kind, request)


def verdict(passed: bool, reasons: str) -> dict[str, Any]:
    return turn(call("verdict", passed=passed, reasons=reasons))


def review_scene(feature: str, turns: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": f"review-{feature}", "match": f"Review of feature {feature}\\b", "turns": turns}


def add_scenes(root: Path, scenes: list[dict[str, Any]]) -> None:
    """Append scenes (the evaluator's) to the project's script, committed like the rest."""
    path = root / "script.json"
    script = json.loads(path.read_text())
    script["scenes"] += scenes
    path.write_text(json.dumps(script, indent=1) + "\n")
    subprocess.run(["git", "add", "script.json"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@l", "commit", "-qm", "review scenes"],
        cwd=root,
        check=True,
    )


def pytest_project(
    root: Path,
    kind: Runner,
    *,
    sessions: dict[int, list[dict[str, Any]]],
    check: str,
    files: dict[str, str] | None = None,
    toml: str = "[budgets]\nrun_sessions = 1\n",
    reviews: list[dict[str, Any]] | None = None,
    count: int = 1,
    checks: list[str | None] | None = None,
) -> Path:
    """A tiny project whose first feature's check is ``check``; committed at init."""
    found = project(
        root,
        kind,
        sessions=sessions,
        count=count,
        toml=toml,
        files=files,
        checks=checks or [check],
    )
    if reviews:
        add_scenes(found, reviews)
    return found


def write(path: str, content: str) -> dict[str, Any]:
    return turn(call("write_file", path=path, content=content))


def verify_and_mark(feature: str = "F001") -> list[dict[str, Any]]:
    return [
        turn(call("verify_feature", feature=feature)),
        turn(call("mark_passing", feature=feature)),
        {"text": f"{feature} is done."},
    ]
