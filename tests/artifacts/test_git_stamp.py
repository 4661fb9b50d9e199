"""The config check runs once per state of the config: an unchanged, settled config is not
read again, and any change (a filter planted, config.worktree appearing, a rewrite in
place within the same timestamp tick, a HEAD that makes git look at the parent folders)
is checked before the next git command."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from artifacts import git_safety, git_stamp
from artifacts.git import GitRepo
from artifacts.git_safety import ConfigChecks, GitConfigRefused, run_git
from artifacts.git_stamp import SETTLE_S, config_stamp

FILTER = '[filter "x"]\n\tclean = "touch /tmp/never; cat"\n'


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    with GitRepo.init(root) as repo:
        (root / "a.txt").write_text("a\n")
        repo.commit("first")
    return root


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every `git config` read of the check (the function that runs it, counted)."""
    seen: list[Path] = []
    real = git_safety.dangerous_config

    def counting(root: Path) -> list[git_safety.DangerousKey]:
        seen.append(root)
        return real(root)

    monkeypatch.setattr(git_safety, "dangerous_config", counting)
    return seen


@pytest.fixture
def checks() -> ConfigChecks:
    """A run's verdicts, passed to its git calls."""
    return ConfigChecks()


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock a little past the settle time, as if the files had been written earlier."""
    monkeypatch.setattr(git_stamp, "_clock", lambda: time.time() + SETTLE_S + 1)


def test_a_settled_unchanged_config_is_read_once(
    tmp_path: Path, reads: list[Path], settled: None, checks: ConfigChecks
) -> None:
    root = _repo(tmp_path)
    reads.clear()  # making the repository checks too (GitRepo)
    for _ in range(5):
        run_git(root, "rev-parse", "HEAD", checks=checks)
    assert len(reads) == 1


def test_verdicts_are_kept_only_by_their_owner(
    tmp_path: Path, reads: list[Path], settled: None, checks: ConfigChecks
) -> None:
    """No verdict is process state: a call given no ConfigChecks, or another's, checks."""
    root = _repo(tmp_path)
    reads.clear()  # making the repository checks too (GitRepo)
    run_git(root, "rev-parse", "HEAD", checks=checks)
    run_git(root, "rev-parse", "HEAD", checks=checks)
    assert len(reads) == 1
    run_git(root, "rev-parse", "HEAD")
    run_git(root, "rev-parse", "HEAD")
    run_git(root, "rev-parse", "HEAD", checks=ConfigChecks())
    assert len(reads) == 4


def test_a_filter_planted_after_the_check_is_refused_at_the_next_command(
    tmp_path: Path, reads: list[Path], settled: None, checks: ConfigChecks
) -> None:
    root = _repo(tmp_path)
    reads.clear()  # making the repository checks too (GitRepo)
    run_git(root, "status", checks=checks)
    with (root / ".git" / "config").open("a") as config:
        config.write(FILTER)
    with pytest.raises(GitConfigRefused, match=r"filter\.x\.clean"):
        run_git(root, "status", checks=checks)
    with pytest.raises(GitConfigRefused):  # and again: a refusal is never remembered
        run_git(root, "status", checks=checks)
    assert len(reads) == 3


def test_a_worktree_config_appearing_later_is_checked(
    tmp_path: Path, reads: list[Path], settled: None, checks: ConfigChecks
) -> None:
    root = _repo(tmp_path)
    reads.clear()  # making the repository checks too (GitRepo)
    subprocess.run(["git", "-C", str(root), "config", "extensions.worktreeConfig", "true"])
    run_git(root, "status", checks=checks)
    (root / ".git" / "config.worktree").write_text(FILTER)
    with pytest.raises(GitConfigRefused, match=r"filter\.x\.clean"):
        run_git(root, "status", checks=checks)


def test_a_same_size_rewrite_in_the_same_tick_is_caught(
    tmp_path: Path, reads: list[Path], checks: ConfigChecks
) -> None:
    """The real clock: a config written a moment ago gives no stamp, so a rewrite in place
    that keeps inode, size and (in the same tick) mtime and ctime is still checked."""
    root = _repo(tmp_path)
    reads.clear()  # making the repository checks too (GitRepo)
    config = root / ".git" / "config"
    evil = config.read_text() + FILTER
    clean = config.read_text() + "[user]\n\tnote = x\n"
    clean = clean[:-1] + "x" * (len(evil) - len(clean)) + "\n"
    assert len(clean) == len(evil)
    config.write_text(clean)
    run_git(root, "status", checks=checks)  # clean: accepted
    assert config_stamp(root) is None  # too young to be trusted
    inode = config.stat().st_ino
    with config.open("r+") as handle:  # in place: same inode, same size
        handle.write(evil)
    assert config.stat().st_ino == inode
    with pytest.raises(GitConfigRefused, match=r"filter\.x\.clean"):
        run_git(root, "status", checks=checks)


def test_the_stamp_moves_with_every_kind_of_change(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    config = root / ".git" / "config"
    later = time.time() + SETTLE_S + 1
    first = config_stamp(root, now=later)
    assert first is not None and config_stamp(root, now=later) == first
    assert config_stamp(root, now=time.time()) is None  # just written by git init
    replaced = config.with_name("config.new")
    replaced.write_text(config.read_text())
    replaced.replace(config)  # same bytes, same size: a new inode
    assert config_stamp(root, now=later) not in (None, first)


def test_a_repository_git_would_not_take_gives_no_stamp(tmp_path: Path) -> None:
    """Without a valid HEAD git searches the parent folders and reads their config, which
    the stamp does not cover: no stamp, so the check runs every time."""
    root = _repo(tmp_path)
    later = time.time() + SETTLE_S + 1
    assert config_stamp(root, now=later) is not None
    (root / ".git" / "HEAD").write_text("garbage\n")
    assert config_stamp(root, now=later) is None
    (root / ".git" / "HEAD").unlink()
    assert config_stamp(root, now=later) is None
    assert config_stamp(tmp_path / "nowhere", now=later) is None
