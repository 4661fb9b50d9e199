"""harness's own git asks each question once: a log is one `git log` where there are
commits, HEAD's feature list one `git cat-file` for each commit HEAD names, a commit asks
for HEAD once, a run builds a tree once."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from artifacts import git_commit, git_state
from artifacts.git import GitRepo
from artifacts.git_commit import commit_exact, committed_blob
from artifacts.git_safety import ConfigChecks
from artifacts.git_state import repository_state
from artifacts.git_tree import build_tree, head_sha
from harness.errors import GitError
from session.protected_tree import head_files
from session.sentinel import check_against_head


def _repo(root: Path) -> Path:
    with GitRepo.init(root) as repo:
        (root / "feature_list.json").write_text('{"features": []}\n')
        repo.commit("first", trailers={"Harness-Session": "r/1"})
    return root


def _commands(asked: list[tuple[str, ...]]) -> list[str]:
    return [args[0] for args in asked if args[:2] != ("config", "--file")]


def test_a_log_with_commits_is_one_git_command(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    repo = GitRepo(_repo(tmp_path / "p"), ConfigChecks())
    repo.log(1)  # the config's verdict, kept
    asked.clear()
    assert [c.summary for c in repo.log(5)] == ["first"]
    assert repo.find_commit_with_trailer("Harness-Session", "r/1") == repo.log(1)[0].sha
    assert _commands(asked) == ["log", "log", "log"]


def test_a_log_without_commits_is_empty(tmp_path: Path) -> None:
    with GitRepo.init(tmp_path / "p") as repo:
        assert repo.log(5) == []
        assert repo.find_commit_with_trailer("Harness-Session", "r/1") is None


def test_head_s_feature_list_is_one_git_command(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    assert check_against_head(root, checks) is None  # unchanged; the verdict kept
    (root / "feature_list.json").write_text('{"features": [], "x": 1}\n')
    asked.clear()
    check_against_head(root, checks)
    assert _commands(asked) == []  # HEAD's bytes, read for the same commit before
    (root / "feature_list.json").write_text('{"features": []}\n')
    _git_in(root, "commit", "-q", "--allow-empty", "-m", "another commit")
    asked.clear()
    check_against_head(root, checks)
    assert _commands(asked) == ["rev-parse", "cat-file"]  # HEAD moved: asked again


def test_a_commit_asks_for_head_once(tmp_path: Path, asked: list[tuple[str, ...]]) -> None:
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    asked.clear()
    sha = commit_exact(
        root,
        "second",
        paths=["a.txt"],
        blobs={"progress.md": b"# Progress\n"},
        protected=[],
        checks=checks,
    )
    assert sha is not None and GitRepo(root, checks).log(1)[0].summary == "second"
    commands = _commands(asked)
    assert commands.count("rev-parse") == 1, commands
    # The same tree again: no commit, and no question about HEAD (the commit harness just
    # made is HEAD while its files name it).
    asked.clear()
    assert (
        commit_exact(
            root,
            "third",
            paths=["a.txt"],
            blobs={"progress.md": b"# Progress\n"},
            protected=[],
            checks=checks,
        )
        is None
    )
    assert _commands(asked).count("rev-parse") == 0, _commands(asked)


def test_a_commit_holds_each_blob_at_its_path(tmp_path: Path) -> None:
    """The blobs are checked in the tree (one ls-tree for all of them, nested ones too)."""
    root = _repo(tmp_path / "p")
    (root / "a.txt").write_text("a\n")
    sha = commit_exact(
        root, "second", paths=["a.txt"], blobs={"b/c.md": b"c\n", "d.md": b"d\n"}, protected=[]
    )
    assert sha is not None
    repo = GitRepo(root)
    assert repo.read_at_head("b/c.md") == "c\n" and repo.read_at_head("d.md") == "d\n"


@pytest.mark.parametrize("forged", ["b/c.md", "d.md"])
def test_a_tree_holding_other_bytes_for_a_blob_is_not_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forged: str
) -> None:
    """The one ls-tree still catches a tree whose blob is not the bytes harness wrote (a
    nested one too): nothing is committed."""
    root = _repo(tmp_path / "p")
    (root / "a.txt").write_text("a\n")
    head = GitRepo(root).log(1)[0].sha
    real = git_commit.build_tree

    def forging(*args: Any, blobs: dict[str, bytes], **kwargs: Any) -> tuple[str, dict[str, str]]:
        _, shas = real(*args, blobs=blobs, **kwargs)
        other, _ = real(*args, blobs={**blobs, forged: b"not what harness wrote\n"}, **kwargs)
        return other, shas

    monkeypatch.setattr(git_commit, "build_tree", forging)
    blobs = {"b/c.md": b"c\n", "d.md": b"d\n"}
    with pytest.raises(GitError, match=f"holds other bytes for {forged} "):
        commit_exact(root, "second", paths=["a.txt"], blobs=blobs, protected=[])
    assert GitRepo(root).log(1)[0].sha == head


def test_a_commit_hashes_and_indexes_its_files_and_blobs_at_once(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """The work-tree files and harness's blobs are hashed by one `git hash-object` and
    go into the private index by one `git update-index` (were one of each per blob)."""
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    blobs = {"progress.md": b"# Progress\n", "feature_list.json": b'{"features": [1]}\n'}
    asked.clear()
    sha = commit_exact(root, "second", paths=["a.txt"], blobs=blobs, protected=[], checks=checks)
    assert sha is not None
    commands = _commands(asked)
    assert commands.count("hash-object") == 1 and commands.count("update-index") == 1, commands
    repo = GitRepo(root, checks)
    assert repo.read_at_head("a.txt") == "a\n"
    assert repo.read_at_head("progress.md") == "# Progress\n"
    assert repo.read_at_head("feature_list.json") == '{"features": [1]}\n'


def test_a_blob_wins_over_the_file_of_its_path(tmp_path: Path) -> None:
    """A path both on disk and among the blobs is committed as the blob's bytes."""
    root = _repo(tmp_path / "p")
    (root / "feature_list.json").write_text('{"features": ["agent"]}\n')
    blobs = {"feature_list.json": b'{"features": ["harness"]}\n'}
    sha = commit_exact(root, "x", paths=["feature_list.json"], blobs=blobs, protected=[])
    assert sha is not None
    assert GitRepo(root).read_at_head("feature_list.json") == '{"features": ["harness"]}\n'


def test_the_same_tree_is_built_once_a_run(tmp_path: Path, asked: list[tuple[str, ...]]) -> None:
    """The same base and the same bytes again give the tree built before without building
    it (the files are hashed anew); other bytes, another base or a ref as the base build."""
    root = _repo(tmp_path / "p")
    head = GitRepo(root).log(1)[0].sha
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    first, _ = build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)
    asked.clear()
    again, _ = build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)
    assert again == first and _commands(asked) == ["hash-object"]
    (root / "a.txt").write_text("b\n")
    asked.clear()
    other, _ = build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)
    assert other != first and "write-tree" in _commands(asked)
    shown = subprocess.run(
        ["git", "-C", root, "cat-file", "blob", f"{other}:a.txt"], capture_output=True
    )
    assert shown.stdout == b"b\n"
    asked.clear()
    build_tree(root, None, paths=["a.txt"], blobs={}, checks=checks)
    build_tree(root, "HEAD", paths=["a.txt"], blobs={}, checks=checks)
    build_tree(root, "HEAD", paths=["a.txt"], blobs={}, checks=checks)
    assert _commands(asked).count("write-tree") == 3, _commands(asked)


def test_a_base_is_read_into_an_index_once_a_run(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """Builds on the same base with other bytes start from the index `git read-tree` made
    of it the first time (kept as bytes): one `read-tree` for them all, and each tree is
    the one a build without kept state gives, byte for byte."""
    root = _repo(tmp_path / "p")
    head = GitRepo(root).log(1)[0].sha
    checks = ConfigChecks()
    asked.clear()
    built = []
    for text in ("a\n", "b\n", "c\n"):
        (root / "a.txt").write_text(text)
        (root / "feature_list.json").write_text(text)
        tree, _ = build_tree(
            root, head, paths=["a.txt", "feature_list.json"], blobs={}, checks=checks
        )
        assert tree == build_tree(root, head, paths=["a.txt", "feature_list.json"], blobs={})[0]
        built.append(tree)
    assert len(set(built)) == 3
    assert _commands(asked).count("read-tree") == 1 + 3, _commands(asked)  # 3: unkept builds
    (root / "a.txt").unlink()
    tree, _ = build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)
    assert _git_in(root, "ls-tree", "--name-only", tree) == "feature_list.json"
    assert _git_in(root, "rev-parse", f"{tree}:feature_list.json") == _git_in(
        root, "rev-parse", f"{head}:feature_list.json"
    )


def test_the_unmerged_question_is_asked_once_an_index(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """`git ls-files --unmerged` reads the index alone: a run asks it once while the
    index holds the same bytes (the same bytes again: the answer kept for them), and again
    after any change, such as a conflict written into it."""
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    assert repository_state(root, checks) is None
    asked.clear()
    assert repository_state(root, checks) is None
    assert repository_state(root, checks) is None
    assert "ls-files" not in _commands(asked)
    blob = _git_in(root, "rev-parse", "HEAD:feature_list.json")
    conflicted = "".join(f"100644 {blob} {stage}\tfeature_list.json\n" for stage in (1, 2, 3))
    index = root / ".git" / "index"
    clean = index.read_bytes()
    subprocess.run(
        ["git", "-C", root, "update-index", "--index-info"],
        input=f"0 {'0' * 40}\tfeature_list.json\n{conflicted}".encode(),
        check=True,
    )
    why = repository_state(root, checks)
    assert why is not None and "unresolved merge conflicts in feature_list.json" in why
    index.write_bytes(clean)
    assert repository_state(root, checks) is None
    assert repository_state(root, checks) is None
    assert _commands(asked).count("ls-files") == 1, asked  # the conflict; clean bytes: kept
    assert repository_state(root) is None and _commands(asked)[-1] == "ls-files"  # no checks


def test_a_failed_unmerged_question_is_asked_again(
    tmp_path: Path, asked: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An `ls-files --unmerged` that failed (killed, out of memory) says nothing of the
    index: its empty answer is not kept for the index's bytes, and the next call asks git
    again and sees the conflict."""
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    blob = _git_in(root, "rev-parse", "HEAD:feature_list.json")
    conflicted = "".join(f"100644 {blob} {stage}\tfeature_list.json\n" for stage in (1, 2, 3))
    subprocess.run(
        ["git", "-C", root, "update-index", "--index-info"],
        input=f"0 {'0' * 40}\tfeature_list.json\n{conflicted}".encode(),
        check=True,
    )
    real = git_state.run_git

    def failing(*args: Any, **kwargs: Any) -> Any:
        done = real(*args, **kwargs)
        return subprocess.CompletedProcess(done.args, 137, b"", b"") if "ls-files" in args else done

    monkeypatch.setattr(git_state, "run_git", failing)
    assert repository_state(root, checks) is None  # what a failed call always read as
    monkeypatch.setattr(git_state, "run_git", real)
    why = repository_state(root, checks)
    assert why is not None and "unresolved merge conflicts in feature_list.json" in why


def _git_in(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", root, *args], capture_output=True, check=True)
    return done.stdout.decode().strip()


def _revs(asked: list[tuple[str, ...]]) -> int:
    return _commands(asked).count("rev-parse")


def test_head_is_asked_again_only_when_its_files_change(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """A run's HEAD is git's answer, kept while HEAD, its branch's ref and packed-refs hold
    the bytes that named it; any other commit, a ref rewritten in place (same size), packed
    refs or a detached HEAD are asked again and answered right."""
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    first = _git_in(root, "rev-parse", "HEAD")
    asked.clear()
    assert head_sha(root, checks) == first and head_sha(root, checks) == first
    assert _revs(asked) == 1
    _git_in(root, "commit", "-q", "--allow-empty", "-m", "the user's")  # behind harness's back
    second = _git_in(root, "rev-parse", "HEAD")
    asked.clear()
    assert head_sha(root, checks) == second and head_sha(root, checks) == second
    assert _revs(asked) == 1
    ref = root / ".git" / "refs" / "heads" / "main"
    ref.write_text(first + "\n")  # in place, the same size
    assert head_sha(root, checks) == first
    _git_in(root, "pack-refs", "--all")  # the loose ref gone: packed-refs names it
    assert not ref.exists() and head_sha(root, checks) == first
    _git_in(root, "checkout", "-q", "--detach", second)
    assert head_sha(root, checks) == second
    asked.clear()
    assert head_sha(root, checks) == second and _revs(asked) == 0


def test_head_through_a_tag_or_a_symref_is_asked_each_time(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """What the files do not name plainly (a branch pointing at a tag, a branch that is a
    symref) is git's answer each time."""
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    commit = _git_in(root, "rev-parse", "HEAD")
    _git_in(root, "tag", "-a", "-m", "t", "v1")
    tag = _git_in(root, "rev-parse", "v1")
    (root / ".git" / "refs" / "heads" / "main").write_text(tag + "\n")  # git would refuse
    asked.clear()
    assert head_sha(root, checks) == commit and head_sha(root, checks) == commit
    assert _revs(asked) == 2
    _git_in(root, "update-ref", "refs/heads/other", commit)
    (root / ".git" / "refs" / "heads" / "main").write_text("ref: refs/heads/other\n")
    asked.clear()
    assert head_sha(root, checks) == commit and head_sha(root, checks) == commit
    assert _revs(asked) == 2


def test_harness_s_own_commit_moves_the_head_it_knows(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """After harness's commit, HEAD is known without asking (the files name that commit)."""
    root = _repo(tmp_path / "p")
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    sha = commit_exact(root, "second", paths=["a.txt"], blobs={}, protected=[], checks=checks)
    asked.clear()
    assert sha is not None and head_sha(root, checks) == sha and _revs(asked) == 0
    assert _git_in(root, "rev-parse", "HEAD") == sha


def test_a_linked_worktree_s_head_is_its_own(tmp_path: Path) -> None:
    """A linked worktree's HEAD (its git dir's) and branch (the common dir's) are read where
    git reads them: a commit made there is seen."""
    root = _repo(tmp_path / "p")
    linked = tmp_path / "linked"
    _git_in(root, "worktree", "add", "-q", "-b", "side", str(linked))
    checks = ConfigChecks()
    assert head_sha(linked, checks) == head_sha(root, checks) == _git_in(root, "rev-parse", "HEAD")
    _git_in(linked, "commit", "-q", "--allow-empty", "-m", "on the side")
    assert head_sha(linked, checks) == _git_in(linked, "rev-parse", "HEAD")
    assert head_sha(root, checks) != head_sha(linked, checks)


def test_nothing_is_kept_while_an_object_is_replaced(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """A replace ref (`git replace`) makes git read another object for an id: a tree built
    before one is built again (as git reads the base now), and HEAD is asked each time."""
    root = _repo(tmp_path / "p")
    head = _git_in(root, "rev-parse", "HEAD")
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    before, _ = build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)
    assert head_sha(root, checks) == head
    empty = _git_in(root, "hash-object", "-t", "tree", "/dev/null")
    _git_in(root, "replace", head, _git_in(root, "commit-tree", empty, "-m", "other"))
    asked.clear()
    after, _ = build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)
    assert after != before and "write-tree" in _commands(asked)
    assert _git_in(root, "ls-tree", "--name-only", after) == "a.txt"
    asked.clear()
    assert head_sha(root, checks) == head and head_sha(root, checks) == head
    assert _revs(asked) == 2


def test_head_s_feature_list_is_read_once_a_commit(
    tmp_path: Path, asked: list[tuple[str, ...]]
) -> None:
    """HEAD's blob and HEAD's listing of the protected paths are read once for each commit
    HEAD names (a run read the feature list at HEAD 6 times a session); another commit, of
    the user's, is read anew."""
    root = _repo(tmp_path / "p")
    (root / "tests").mkdir()
    (root / "tests" / "t.sh").write_text("true\n")
    _git_in(root, "add", "tests")
    _git_in(root, "commit", "-q", "-m", "tests")
    checks = ConfigChecks()
    asked.clear()
    for _ in range(3):
        assert committed_blob(root, "HEAD", "feature_list.json", checks) == b'{"features": []}\n'
        assert head_files(root, ["tests", "feature_list.json"], checks) == {
            "tests/t.sh",
            "feature_list.json",
        }
    assert _commands(asked) == ["rev-parse", "cat-file", "ls-tree"], _commands(asked)
    (root / "feature_list.json").write_text('{"features": [], "x": 1}\n')
    _git_in(root, "rm", "-q", "tests/t.sh")
    _git_in(root, "commit", "-q", "-am", "the user's")
    assert (
        committed_blob(root, "HEAD", "feature_list.json", checks) == b'{"features": [], "x": 1}\n'
    )
    assert head_files(root, ["tests", "feature_list.json"], checks) == {"feature_list.json"}
    assert committed_blob(root, "HEAD", "nothing.txt", checks) is None
