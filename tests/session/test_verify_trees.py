"""The trees a check proves a feature on: the plan of the session's commit, its test files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from artifacts.config import DEFAULT_TEST_PATHS, HarnessConfig
from artifacts.git_tree import tree_entries
from harness.errors import RunnerError
from runners.fake import ScriptedRunner
from session.verify.trees import (
    Planned,
    before_tree,
    changed_tests,
    is_test_path,
    plan_paths,
    session_tree,
)
from session.verify.wiring import check_runners


@pytest.mark.parametrize(
    ("path", "test"),
    [
        ("tests/test_a.py", True),
        ("test/unit/x.rb", True),
        ("pkg/test_util.py", True),
        ("pkg/util_test.go", True),
        ("src/app.test.ts", True),
        ("web/__tests__/a.js", True),
        ("conftest.py", True),
        ("svc/src/test/java/ATest.java", True),
        ("src/app.py", False),
        ("latest/notes.md", False),
        ("contest.py", False),
        ("attestation.py", False),
    ],
)
def test_the_default_test_paths(path: str, test: bool) -> None:
    assert is_test_path(path, DEFAULT_TEST_PATHS) is test


def test_compiled_caches_are_no_test_change() -> None:
    planned = Planned(paths=["tests/__pycache__/t.cpython-311.pyc", "tests/test_a.py", "a.py"])
    assert changed_tests(planned, DEFAULT_TEST_PATHS) == ["tests/test_a.py"]


def test_the_plan_leaves_out_what_the_commit_does(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    run = ["git", "-c", "user.name=t", "-c", "user.email=t@l"]
    subprocess.run([*run, "init", "-q"], cwd=root, check=True)
    for name in ("a.py", "SPEC.md", "feature_list.json", "progress.md"):
        (root / name).write_text("x\n")
    subprocess.run([*run, "add", "-A"], cwd=root, check=True)
    subprocess.run([*run, "commit", "-qm", "start"], cwd=root, check=True)
    start = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    (root / "a.py").write_text("changed\n")
    (root / "SPEC.md").write_text("weakened\n")  # protected
    (root / "mine.txt").write_text("the user's\n")  # dirty at wake
    (root / "progress.md").write_text("harness's own\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("def test(): pass\n")
    (root / "acceptance").mkdir()
    (root / "acceptance" / "t.sh").write_text("hidden\n")
    (root / "key.txt").write_text("-----BEGIN RSA PRIVATE KEY-----\nabc\n")
    config = HarnessConfig.model_validate(
        {"protect": {"paths": ["SPEC.md"]}, "verify": {"hidden": ["acceptance"]}}
    )
    planned = plan_paths(root, config, ["mine.txt"])
    assert planned.paths == ["a.py", "tests/test_a.py"]
    assert planned.protected == ["SPEC.md"]
    assert [e.path for e in planned.excluded] == ["key.txt"]
    names = {path for _, _, path in tree_entries(root, session_tree(root, planned))}
    assert names == {"a.py", "SPEC.md", "feature_list.json", "progress.md", "tests/test_a.py"}
    before = {p for _, _, p in tree_entries(root, before_tree(root, start, ["tests/test_a.py"]))}
    assert "tests/test_a.py" in before and "a.py" in before


def test_a_runner_without_clean_checkouts_is_refused_not_run_unverified() -> None:
    """No run without a verifier (issue 23): checks in the agent's own work tree would let
    a run call itself complete on code its commit does not hold."""

    with pytest.raises(RunnerError, match="'scripted' cannot run checks on a clean checkout"):
        check_runners(HarnessConfig(), ScriptedRunner(), "run-1")


def test_a_killed_writes_temp_file_is_no_part_of_the_plan(tmp_path: Path) -> None:
    """The kill-fuzz's one divergence (c55405d, seed 984943744): a kill inside
    mark_passing's write of feature_list.json left its temp file; the re-run mark_passing
    planned it as the session's work, so the tree differed from verify_feature's and the
    evidence cited another step. Temp files of harness's naming are never planned; a file
    named like one without the mark is the agent's work and is."""

    root = tmp_path / "p"
    root.mkdir()
    run = ["git", "-c", "user.name=t", "-c", "user.email=t@l"]
    subprocess.run([*run, "init", "-q"], cwd=root, check=True)
    (root / "feature_list.json").write_text("x\n")
    subprocess.run([*run, "add", "-A"], cwd=root, check=True)
    subprocess.run([*run, "commit", "-qm", "start"], cwd=root, check=True)
    (root / "src").mkdir()
    (root / "src" / "a.py").write_text("work\n")
    (root / ".feature_list.json.harness-99999-77qn1mw8.tmp").write_text("half\n")
    (root / "src" / ".a.py.harness-12345-abcdefgh.tmp").write_text("half\n")
    (root / ".feature_list.json.original.tmp").write_text("the agent's\n")
    planned = plan_paths(root, HarnessConfig(), [])
    assert planned.paths == [".feature_list.json.original.tmp", "src/a.py"]
