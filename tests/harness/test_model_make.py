"""How a run builds its models: the gateway by default; the scope's maker when a test's
entry gives one (`tests/session/scripted_child.py`: scripted models in process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.config import load_config, run_scope
from harness.model import LitellmModel
from harness.model.inprocess import ScriptedModel
from harness.model.make import make_model, scripted_in_process
from harness.scope import RunScope
from tests.session.scripted_child import ENTRY
from tests.session.support import make_project, passing


def test_the_gateway_unless_the_scope_says_otherwise(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    config = load_config(root)
    assert isinstance(
        make_model(config.model, project_root=root, scope=run_scope(config)), LitellmModel
    )
    made = make_model(
        config.model, project_root=root, scope=run_scope(config, models=scripted_in_process)
    )
    assert isinstance(made, ScriptedModel) and made.name == "scripted/script.json"
    other = config.model.model_copy(update={"name": "openai/gpt-4o-mini"})
    scope = RunScope.of({}, models=scripted_in_process)
    assert isinstance(make_model(other, project_root=root, scope=scope), LitellmModel)


def test_init_and_run_build_their_models_with_the_maker_given_to_main(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    asked: list[str] = []

    def maker(settings: Any, *, project_root: Path, scope: RunScope) -> object:
        asked.append(settings.name)
        return scripted_in_process(settings, project_root=project_root, scope=scope)

    assert main(["-C", str(root), "init", "--spec", str(root / "SPEC.md")], models=maker) == 0
    assert asked == ["scripted/script.json"]
    assert main(["-C", str(root), "run"], models=maker) == 0
    assert len(asked) > 1 and passing(root) == ["F001"]


@pytest.mark.slow  # 1.06 CPU-s
def test_a_child_of_the_scripted_entry_runs_to_the_end_without_litellm(tmp_path: Path) -> None:
    """What the tests' new interpreters save (~4 CPU-s each): init and run of a project to
    complete, and litellm never imported."""
    root = make_project(tmp_path / "p", count=1)
    code = (
        "import json, sys\n"
        f"sys.argv[1:] = []\nsys.path[:0] = [{str(Path(ENTRY[-1]).parent)!r}]\n"
        "from scripted_child import main\n"
        f"root = {str(root)!r}\n"
        "codes = [main(['harness', '-C', root, 'init', '--spec', root + '/SPEC.md']),\n"
        "         main(['harness', '-C', root, 'run', '--quiet'])]\n"
        "print(json.dumps([codes, 'litellm' in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [[0, 0], False]
    assert passing(root) == ["F001"]
