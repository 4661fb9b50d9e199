"""`harness init` checks the repository's git config once while it is unchanged: its first
commit's git calls share one set of verdicts, as a run's do (each call checked it again:
a `git config` child and a walk of the tree for what git would block on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from artifacts import git_safety
from tests.session.support import init, make_project


def test_init_checks_an_unchanged_git_config_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "p", count=1)
    checked: list[Path] = []
    walked: list[Path] = []
    dangerous_config, clear_blockers = git_safety.dangerous_config, git_safety.clear_blockers

    def counting_check(root: Path, *args: Any) -> Any:
        checked.append(root)
        return dangerous_config(root, *args)

    def counting_walk(root: Path, *args: Any) -> Any:
        walked.append(root)
        return clear_blockers(root, *args)

    monkeypatch.setattr(git_safety, "dangerous_config", counting_check)
    monkeypatch.setattr(git_safety, "clear_blockers", counting_walk)
    init(root)
    # Once for the first commit's calls, once for the command's own listing of it after.
    assert len(checked) <= 2, len(checked)
    assert len(walked) <= 2, len(walked)


def test_init_lists_its_first_commit_once(
    tmp_path: Path, asked: list[tuple[str, ...]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The paths the first commit holds are asked of git once: the index sync's answer is
    the one `harness init` names (it asked `git diff-tree` again, after a config check)."""
    root = make_project(tmp_path / "p", count=1)
    init(root)
    listed = [args for args in asked if args[0] == "diff-tree"]
    assert len(listed) == 1, listed
    assert "the first commit holds" in capsys.readouterr().out
    assert len([args for args in asked if args[:2] == ("config", "--file")]) == 1
