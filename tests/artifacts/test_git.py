"""GitRepo: real git repositories in temporary folders."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from artifacts.git import AUTHOR_EMAIL, GitRepo, parse_trailers
from harness.errors import GitError
from tests.conftest import git


def git_children() -> int:
    """The live `git` processes whose parent is this test process."""
    me = str(os.getpid())
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[1] == me and fields[0] != "Z" and name == "git":
            count += 1
    return count


def test_init_gives_an_empty_repo_without_head(tmp_path: Path) -> None:
    with GitRepo.init(tmp_path / "new") as repo:
        assert repo.head() is None
        assert repo.log() == []
        assert not repo.is_dirty()
        assert not repo.is_detached()
        assert repo.find_commit_with_trailer("Harness-Session", "x") is None
    assert (tmp_path / "new" / ".git").is_dir()


def test_first_commit_in_empty_repo_respects_gitignore(tmp_path: Path) -> None:
    root = tmp_path / "p"
    with GitRepo.init(root) as repo:
        (root / "a.txt").write_text("a")
        (root / ".gitignore").write_text("secret\n")
        (root / "secret").write_text("s")
        assert repo.is_dirty()
        sha = repo.commit("first")
        assert repo.head() == sha and len(sha) == 40
        assert not repo.is_dirty()
    assert git(root, "ls-files").split() == [".gitignore", "a.txt"]


def test_commit_author_trailers_and_log(git_project: Path, no_identity: None) -> None:
    (git_project / "x.py").write_text("print(1)\n")
    with GitRepo.open(git_project) as repo:
        sha = repo.commit("session 3: F003 passing", trailers={"Harness-Step": "run/3/17"})
        entry = repo.log(1)[0]
    assert entry.sha == sha
    assert entry.summary == "session 3: F003 passing"
    assert entry.author == f"harness <{AUTHOR_EMAIL}>"
    assert entry.trailers == {"Harness-Step": "run/3/17"}
    assert abs(entry.date - datetime.now(UTC)) < timedelta(minutes=1)
    committer = git(git_project, "log", "-1", "--format=%cn <%ce>").strip()
    assert committer == f"harness <{AUTHOR_EMAIL}>"


def test_find_commit_with_trailer_matches_only_trailers(git_project: Path) -> None:
    with GitRepo.open(git_project) as repo:
        (git_project / "a").write_text("1")
        # the text appears in the body, not as a trailer: not a match
        repo.commit("mentions\n\nHarness-Session: r/1 in prose here\n\nDone.")
        (git_project / "b").write_text("2")
        wanted = repo.commit("real", trailers={"Harness-Session": "r/1"})
        (git_project / "c").write_text("3")
        repo.commit("later", trailers={"Harness-Session": "r/2"})
        assert repo.find_commit_with_trailer("Harness-Session", "r/1") == wanted
        assert repo.find_commit_with_trailer("Harness-Session", "r/9") is None


def test_commit_paths_leaves_other_changes_alone(git_project: Path) -> None:
    (git_project / "mine.txt").write_text("protocol")
    (git_project / "users.txt").write_text("user work")
    with GitRepo.open(git_project) as repo:
        repo.commit("protocol only", paths=["mine.txt"])
        assert repo.is_dirty()  # users.txt is still untracked
    assert git(git_project, "show", "--name-only", "--format=", "HEAD").split() == ["mine.txt"]


def test_commit_skips_hooks(git_project: Path) -> None:
    hook = git_project / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    (git_project / "f").write_text("x")
    with GitRepo.open(git_project) as repo:
        assert repo.commit("despite the hook")


def test_nothing_to_commit_and_bad_trailer_are_git_errors(git_project: Path) -> None:
    with GitRepo.open(git_project) as repo:
        with pytest.raises(GitError, match="nothing to commit"):
            repo.commit("empty")
        (git_project / "f").write_text("x")
        with pytest.raises(GitError, match="trailer"):
            repo.commit("bad", trailers={"Bad Key": "v"})


def test_dirty_counts_untracked_and_modified(git_project: Path) -> None:
    with GitRepo.open(git_project) as repo:
        assert not repo.is_dirty()
        (git_project / "new.txt").write_text("n")
        assert repo.is_dirty()
        (git_project / "new.txt").unlink()
        (git_project / "README.md").write_text("changed")
        assert repo.is_dirty()


def test_detached_head(git_project: Path) -> None:
    head = git(git_project, "rev-parse", "HEAD").strip()
    git(git_project, "checkout", "-q", "--detach")
    with GitRepo.open(git_project) as repo:
        assert repo.is_detached()
        assert repo.branch() is None
        assert repo.head() == head


def test_not_a_repo_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="is not a git repository"):
        GitRepo.open(tmp_path)
    with pytest.raises(GitError, match="is not a git repository"):
        GitRepo.open(tmp_path / "missing")


def test_subfolder_of_a_repo_is_refused(git_project: Path) -> None:
    (git_project / "sub").mkdir()
    with pytest.raises(GitError, match="not its top"):
        GitRepo.open(git_project / "sub")


def test_parse_trailers() -> None:
    assert parse_trailers("s\n\nA: 1\nB-c: two words") == {"A": "1", "B-c": "two words"}
    assert parse_trailers("only a subject A: 1") == {}
    assert parse_trailers("s\n\nA: 1\nnot a trailer") == {}


def test_no_leaked_git_children(git_project: Path) -> None:
    """Every call is one git process that has ended: nothing is left between calls."""
    before = git_children()
    for _ in range(20):
        with GitRepo.open(git_project) as repo:
            repo.log(5)
            repo.head()
            assert git_children() == before
    assert git_children() == before
