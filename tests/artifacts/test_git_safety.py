"""Host git runs no program the repository chose: hooks, fsmonitor, filters, includes.

Each attack plants a program that would write a marker file outside the project, then
drives harness's own git calls; the marker must never appear.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from artifacts.git import GitRepo, quick_status
from artifacts.git_safety import GitConfigRefused, dangerous_config, run_git
from harness.errors import ExitCode
from session.protected import restore_protected


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    with GitRepo.init(root) as repo:
        (root / "a.txt").write_text("a\n")
        repo.commit("first")
    return root


def _evil(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A script that touches a marker outside the project (and exits 0)."""
    marker = tmp_path / f"MARKER-{name}"
    script = tmp_path / f"{name}.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    script.chmod(0o755)
    return script, marker


@pytest.mark.parametrize(
    "hook", ["pre-commit", "post-commit", "reference-transaction", "commit-msg"]
)
def test_hooks_do_not_run_on_harness_commits(tmp_path: Path, hook: str) -> None:
    root = _repo(tmp_path)
    script, marker = _evil(tmp_path, hook)
    (root / ".git" / "hooks" / hook).write_text(script.read_text())
    (root / ".git" / "hooks" / hook).chmod(0o755)
    (root / "b.txt").write_text("b\n")
    with GitRepo.open(root) as repo:
        repo.commit("second")
        assert repo.log(1)[0].summary == "second"
    quick_status(root)
    assert not marker.exists()


def test_a_hooks_path_set_by_the_project_is_overridden_not_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    script, marker = _evil(tmp_path, "husky")
    (root / ".husky").mkdir()
    (root / ".husky" / "pre-commit").write_text(script.read_text())
    (root / ".husky" / "pre-commit").chmod(0o755)
    _git(root, "config", "core.hooksPath", ".husky")
    (root / "b.txt").write_text("b\n")
    with GitRepo.open(root) as repo:
        repo.commit("second")
    assert not marker.exists()


def test_fsmonitor_program_is_refused_naming_the_key(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    script, marker = _evil(tmp_path, "fsmonitor")
    _git(root, "config", "core.fsmonitor", str(script))
    with pytest.raises(GitConfigRefused) as caught:
        GitRepo.open(root)
    text = str(caught.value)
    assert "core.fsmonitor" in text and str(script) in text
    assert "--unset-all core.fsmonitor" in text
    assert caught.value.exit_code == ExitCode.INVALID
    status = quick_status(root)
    assert status.error is not None and "core.fsmonitor" in status.error
    # Even a raw hardened command (the doctor's, the state's) refuses rather than run it.
    with pytest.raises(GitConfigRefused):
        run_git(root, "status", "--porcelain")
    assert not marker.exists()


def test_filter_driver_with_gitattributes_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    script, marker = _evil(tmp_path, "filter")
    _git(root, "config", "filter.x.clean", str(script))
    (root / ".gitattributes").write_text("* filter=x\n")
    (root / "b.txt").write_text("b\n")
    with pytest.raises(GitConfigRefused, match=r"filter\.x\.clean"):
        GitRepo.open(root)
    assert not marker.exists()


def test_include_path_is_refused_and_its_keys_are_seen(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    script, marker = _evil(tmp_path, "include")
    other = tmp_path / "other.config"
    other.write_text(f'[diff "y"]\n\ttextconv = {script}\n')
    _git(root, "config", "include.path", str(other))
    found = {k.key.lower() for k in dangerous_config(root)}
    assert {"include.path", "diff.y.textconv"} <= found
    with pytest.raises(GitConfigRefused):
        GitRepo.open(root)
    assert not marker.exists()


def test_worktree_config_is_checked_too(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    script, _ = _evil(tmp_path, "wt")
    _git(root, "config", "extensions.worktreeConfig", "true")
    _git(root, "config", "--worktree", "core.sshCommand", str(script))
    with pytest.raises(GitConfigRefused, match=r"(?i)core\.sshCommand"):
        GitRepo.open(root)


def test_harmless_values_and_global_config_are_accepted(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _git(root, "config", "core.fsmonitor", "false")
    _git(root, "config", "core.pager", "cat")
    _git(root, "config", "alias.ci", "commit")  # harness calls no alias
    with GitRepo.open(root) as repo:
        assert repo.head() is not None


def test_redirecting_environment_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    other = _repo(tmp_path / "other")
    script, marker = _evil(tmp_path, "env")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", str(script))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.fsmonitor")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(script))
    (root / "a.txt").write_text("changed\n")
    done = run_git(root, "diff")
    assert b"changed" in done.stdout  # this repository's diff, by git itself
    assert not marker.exists()


def test_a_filter_planted_after_open_never_runs_in_a_later_git_call(tmp_path: Path) -> None:
    """The agent plants a clean filter mid-session (after harness opened the repository);
    the next `git status` of harness (the protected-path restore before a check) would run
    it on a re-stat file: every harness git call checks the config first."""

    root = _repo(tmp_path)
    script, marker = _evil(tmp_path, "late-filter")
    _git(root, "config", "filter.x.clean", str(script))
    (root / ".gitattributes").write_text("* filter=x\n")
    (root / "a.txt").write_text("a\n")  # same bytes, new mtime: git must hash it again
    with pytest.raises(GitConfigRefused) as refused:
        restore_protected(root, ["a.txt"])
    assert "filter.x.clean" in str(refused.value)
    with pytest.raises(GitConfigRefused):
        run_git(root, "status", "--porcelain")
    assert not marker.exists()
