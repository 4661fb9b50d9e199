"""Acceptance tests the worker cannot read (`[verify] hidden`), attacked.

The initializer's acceptance check lives in `tests/acceptance/`, hidden. The agent tries
every way in: its file tools (read, list, grep), commands (`cat`, `ls`, `grep -r`, `git
show`, `git log -p`), and overwriting it from a command. The marker inside the check must
reach none of the tool outputs the model read; the file stays as it was and out of git.
Then it does the feature honestly: the check, on a clean checkout that holds the hidden
file, passes it. On the local runner (not a sandbox) only the file tools refuse; the run
says so.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.journal import Journal
from tests.attacks.support import (
    assert_not_complete,
    committed_passing,
    git_out,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, harness, llm_inputs, steps, tool_outputs, turn

MARKER = "MARKER-7f3a9c"
CHECK_SH = f"# {MARKER}: the answer must be 42\ngrep -qx 42 answer.txt\n"
HIDE = '[budgets]\nrun_sessions = 1\n\n[verify]\nhidden = ["tests/acceptance"]\n'
PEEK = (
    "cat tests/acceptance/check.sh; ls -la tests/acceptance; grep -r MARKER . ; "
    "git show HEAD:tests/acceptance/check.sh; git log --all -p | grep MARKER; "
    "git cat-file --batch-all-objects --batch | grep MARKER; echo peeked"
)
OVERWRITE = "echo 'exit 0' > tests/acceptance/check.sh; echo tried"


def _all_tool_text(root: Path) -> str:

    found = []
    with Journal.open_readonly(root / ".harness") as journal:
        for step in journal.steps():
            if step.kind in ("tool", "evaluator") and step.status == "ended":
                detail = journal.step_detail(step.run_id, step.session, step.seq)
                assert detail is not None
                found.append(str(detail.output))
    return "\n".join(found)


@pytest.mark.parametrize("kind", runner_params("bwrap", "docker"))
def test_the_agent_cannot_read_or_change_hidden_acceptance_tests(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [
        turn(call("read_file", path="tests/acceptance/check.sh")),
        turn(call("list_files", pattern="tests/**")),
        turn(call("grep", regex="MARKER")),
        turn(call("run", command=PEEK)),
        turn(call("run", command=OVERWRITE)),
        turn(call("write_file", path="answer.txt", content="42\n")),
        turn(call("verify_feature", feature="F001")),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 passes."},
    ]
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: turns},
        toml=HIDE,
        files={"tests/acceptance/check.sh": CHECK_SH},
        checks=["sh tests/acceptance/check.sh"],
    )
    assert "tests/acceptance" not in git_out(root, "log", "--all", "--name-only", "--format=")
    assert "/tests/acceptance" in (root / ".git/info/exclude").read_text()
    code, report = run(root, tmp_path)
    assert code == 0, report  # the honest part passed on the hidden check
    assert committed_passing(root) == ["F001"]
    assert MARKER not in _all_tool_text(root), "the hidden check reached the model"
    read = tool_outputs(root, "read_file")[-1]  # (the initializer read SPEC.md first)
    assert "is hidden from you" in read, read
    assert "check.sh" not in tool_outputs(root, "list_files")[0]
    peeked, tried = tool_outputs(root, "run")
    assert "peeked" in peeked and "tried" in tried
    assert (root / "tests/acceptance/check.sh").read_text() == CHECK_SH
    assert "tests/acceptance" not in git_out(root, "log", "--all", "--name-only", "--format=")
    (brief,) = [inputs for step, inputs in llm_inputs(root) if step.session == 1][:1]
    assert "Acceptance tests you cannot read" in str(brief)
    assert "used by the checks of F001" in str(brief)


def test_on_the_local_runner_only_the_file_tools_refuse(
    request: pytest.FixtureRequest, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    runner = runner_for("local", request)
    turns = [
        turn(call("read_file", path="tests/acceptance/check.sh")),
        turn(call("write_file", path="answer.txt", content="42\n")),
        turn(call("verify_feature", feature="F001")),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 passes."},
    ]
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: turns},
        toml=HIDE,
        files={"tests/acceptance/check.sh": CHECK_SH},
        checks=["sh tests/acceptance/check.sh"],
    )
    code, report = run(root, tmp_path)
    assert code == 0, report
    assert "is hidden from you" in tool_outputs(root, "read_file")[-1]
    assert "the local runner cannot hide [verify] hidden paths" in capfd.readouterr().err


def test_a_hidden_path_git_already_holds_is_refused(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Hidden after the fact: git has it, the agent could read it through `.git`."""
    runner = runner_for("local", request)
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: []},
        files={"tests/acceptance/check.sh": CHECK_SH},
        checks=["sh tests/acceptance/check.sh"],
    )
    with (root / "harness.toml").open("a") as handle:
        handle.write('\n[verify]\nhidden = ["tests/acceptance"]\n')
    subprocess.run(["git", "add", "harness.toml"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@l", "commit", "-qm", "hide"],
        cwd=root,
        check=True,
    )
    before = len(steps(root))
    code, report = run(root, tmp_path)
    assert code == 2, report
    assert_not_complete(code, report)
    assert "is committed to git" in report["detail"] and "git rm -r --cached" in report["detail"]
    assert not [s for s in steps(root)[before:] if s.kind == "llm"], "a model was paid for"
    assert harness(root, "validate") == 0  # the files are fine: the configuration is refused
