"""A project that is not the demo, start to end as a user would type it: init with the
model named by --model (written into harness.toml), run to complete, state kept out of git."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.session.support import SCRIPT, harness_proc, make_project, passing

LOCAL = {"HARNESS_RUNNER_KIND": "local"}


@pytest.mark.slow  # 7.3 CPU-s (bench/suite_census.py)
def test_init_with_model_then_run_to_complete(tmp_path: Path) -> None:
    root = make_project(tmp_path / "app", count=2)
    (root / "harness.toml").unlink()  # the user's folder: a spec and nothing of ours
    # A new interpreter for each command, as the user starts them.
    init = harness_proc(
        root,
        "init",
        "--spec",
        str(root / "SPEC.md"),
        "--model",
        f"scripted/{SCRIPT}",
        env=LOCAL,
        fresh=True,
        gateway=True,  # the model named by --model, called through litellm as a user's is
    )
    assert init.returncode == 0, init.stderr
    toml = (root / "harness.toml").read_text()
    assert f'"scripted/{SCRIPT}"' in toml and "builtin:demo" not in toml
    run = harness_proc(root, "run", "--json", "--quiet", env=LOCAL, fresh=True)
    assert run.returncode == 0, run.stderr
    ended = json.loads(run.stdout.splitlines()[-1])
    assert ended["type"] == "run.ended" and ended["report"]["outcome"] == "complete"
    assert passing(root) == ["F001", "F002"]
    tracked = subprocess.run(
        ["git", "-C", str(root), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "harness.toml" in tracked and not [p for p in tracked if p.startswith(".harness")]
    again = harness_proc(root, "run", env=LOCAL, fresh=True)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_init_with_model_killed_before_it_wrote_harness_toml_is_finished_by_run(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "app", count=1)
    (root / "harness.toml").unlink()
    killed = harness_proc(
        root,
        "init",
        "--spec",
        str(root / "SPEC.md"),
        "--model",
        f"scripted/{SCRIPT}",
        env=LOCAL,
        crash_in="llm:*#2",
    )
    assert killed.returncode == -9, killed.stderr
    (root / "harness.toml").unlink()  # as if killed before init wrote it (init now writes
    # it first, with the model: see tests/harness/test_model_setup.py)
    done = harness_proc(root, "run", env=LOCAL)  # what the user types: no flags again
    assert done.returncode == 0, done.stderr
    assert f'"scripted/{SCRIPT}"' in (root / "harness.toml").read_text()
    assert passing(root) == ["F001"]
