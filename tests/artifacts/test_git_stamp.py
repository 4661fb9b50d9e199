"""The config check runs once per content of the config: unchanged bytes are not read
again, however young the files, and any change (a filter planted, config.worktree
appearing, a rewrite in place within the same timestamp tick, a HEAD that makes git look
at the parent folders) is checked before the next git command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from artifacts.git import GitRepo
from artifacts.git_safety import ConfigChecks, GitConfigRefused, run_git
from artifacts.git_stamp import config_files, index_digest

FILTER = '[filter "x"]\n\tclean = "touch /tmp/never; cat"\n'


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    with GitRepo.init(root) as repo:
        (root / "a.txt").write_text("a\n")
        repo.commit("first")
    return root


@pytest.fixture
def checks() -> ConfigChecks:
    """A run's verdicts, passed to its git calls."""
    return ConfigChecks()


def test_an_unchanged_config_is_read_once(
    tmp_path: Path, reads: list[Path], checks: ConfigChecks
) -> None:
    root = _repo(tmp_path)
    reads.clear()  # making the repository checks too (GitRepo)
    for _ in range(5):
        run_git(root, "rev-parse", "HEAD", checks=checks)
    assert len(reads) == 1


def test_verdicts_are_kept_only_by_their_owner(
    tmp_path: Path, reads: list[Path], checks: ConfigChecks
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
    tmp_path: Path, reads: list[Path], checks: ConfigChecks
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
    tmp_path: Path, reads: list[Path], checks: ConfigChecks
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
    """A rewrite in place that keeps inode, size and (in the same tick) mtime and ctime is
    still checked: the verdict is the bytes'."""
    root = _repo(tmp_path)
    reads.clear()  # making the repository checks too (GitRepo)
    config = root / ".git" / "config"
    evil = config.read_text() + FILTER
    clean = config.read_text() + "[user]\n\tnote = x\n"
    clean = clean[:-1] + "x" * (len(evil) - len(clean)) + "\n"
    assert len(clean) == len(evil)
    config.write_text(clean)
    run_git(root, "status", checks=checks)  # clean: accepted
    inode = config.stat().st_ino
    with config.open("r+") as handle:  # in place: same inode, same size
        handle.write(evil)
    assert config.stat().st_ino == inode
    with pytest.raises(GitConfigRefused, match=r"filter\.x\.clean"):
        run_git(root, "status", checks=checks)


def test_the_digest_moves_with_the_bytes_only(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    config = root / ".git" / "config"
    first = config_files(root)
    assert first is not None and config_files(root) == first
    replaced = config.with_name("config.new")
    replaced.write_text(config.read_text())
    replaced.replace(config)  # same bytes, same size: a new inode, the same content
    assert config_files(root) == first
    config.write_text(config.read_text() + "[user]\n\tnote = x\n")
    assert config_files(root) not in (None, first)


def test_a_repository_git_would_not_take_gives_no_files(tmp_path: Path) -> None:
    """Without a valid HEAD git searches the parent folders and reads their config, which
    the files read do not cover: none, so the check asks git for the whole config."""
    root = _repo(tmp_path)
    assert config_files(root) is not None
    (root / ".git" / "HEAD").write_text("garbage\n")
    assert config_files(root) is None
    (root / ".git" / "HEAD").unlink()
    assert config_files(root) is None
    assert config_files(tmp_path / "nowhere") is None


def test_the_index_digest_follows_its_bytes_and_gives_up_on_a_split_index(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    first = index_digest(root)
    assert first is not None and index_digest(root) == first
    (root / "b.txt").write_text("b\n")
    subprocess.run(["git", "-C", root, "add", "b.txt"], check=True)
    assert index_digest(root) not in (None, first)
    subprocess.run(["git", "-C", root, "update-index", "--split-index"], check=True)
    assert list((root / ".git").glob("sharedindex.*"))
    assert index_digest(root) is None  # its entries are in another file: git is asked
