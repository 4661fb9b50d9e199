"""What a run keeps of git (a base's private index, the index's unmerged entries) gives what
git gives, in the repositories users have: a replace ref dropped while a base is read, a
base pruned by the user's `git gc`, a split index, a sparse checkout, a linked worktree,
``GIT_INDEX_FILE`` in harness's environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from artifacts import git_safety
from artifacts.git import GitRepo
from artifacts.git_safety import ConfigChecks
from artifacts.git_state import repository_state
from artifacts.git_tree import build_tree
from harness.errors import GitError


def _repo(root: Path) -> Path:
    with GitRepo.init(root) as repo:
        (root / "feature_list.json").write_text('{"features": []}\n')
        (root / "src").mkdir()
        (root / "src" / "app.py").write_text("print(1)\n")
        (root / "docs").mkdir()
        (root / "docs" / "a.md").write_text("# a\n")
        repo.commit("first", trailers={"Harness-Session": "r/1"})
    return root


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", root, "-c", "user.name=u", "-c", "user.email=u@e", *args],
        capture_output=True,
        check=True,
        env=env,
    )
    return done.stdout.decode().strip()


def _names(root: Path, tree: str) -> list[str]:
    return _git(root, "ls-tree", "-r", "--name-only", tree).splitlines()


def test_a_replace_ref_dropped_while_a_base_is_read_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git read-tree base` read another object (a replace ref), and the user dropped the
    ref before harness looked again: what git read then is not the base's, and no later
    build on the base may start from it (nor give the tree built from it)."""
    root = _repo(tmp_path / "p")
    head = _git(root, "rev-parse", "HEAD")
    empty = _git(root, "hash-object", "-t", "tree", "/dev/null")
    _git(root, "replace", head, _git(root, "commit-tree", empty, "-m", "other"))
    real = git_safety.run_git_unchecked
    armed = [True]

    def user_drops_the_ref(where: Path | str, *args: str, **kwargs: object) -> object:
        done = real(where, *args, **kwargs)  # type: ignore[arg-type]
        if "read-tree" in args and armed:
            armed.clear()
            _git(root, "replace", "-d", head)  # the user, between git's read and harness's
            if (root / ".git" / "refs" / "replace").is_dir():
                (root / ".git" / "refs" / "replace").rmdir()  # git leaves the folder
        return done

    monkeypatch.setattr(git_safety, "run_git_unchecked", user_drops_the_ref)
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)  # read the replacement
    assert not armed
    monkeypatch.setattr(git_safety, "run_git_unchecked", real)
    (root / "b.txt").write_text("b\n")
    for paths in (["a.txt"], ["b.txt"]):
        fresh, _ = build_tree(root, head, paths=paths, blobs={})
        assert "feature_list.json" in _names(root, fresh)
        assert build_tree(root, head, paths=paths, blobs={}, checks=checks)[0] == fresh, paths


@pytest.mark.parametrize(
    "setup",
    [
        ("config", "core.splitIndex", "true"),
        ("config", "index.version", "4"),
        ("config", "splitIndex.sharedIndexExpire", "now"),
        ("sparse-checkout", "set", "--cone", "src"),
    ],
    ids=["split-index", "index-v4", "shared-index-expire-now", "sparse-cone"],
)
def test_a_kept_base_index_builds_what_git_builds_after_the_user_s_index_config_changes(
    tmp_path: Path, setup: tuple[str, ...]
) -> None:
    """The user changes how git writes indexes in the middle of a run (and git removes
    the split index's shared files it expires): a build from the kept index gives the
    tree a fresh `read-tree` gives, and the kept bytes need no file outside them."""
    root = _repo(tmp_path / "p")
    head = _git(root, "rev-parse", "HEAD")
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    build_tree(root, head, paths=["a.txt"], blobs={}, checks=checks)  # the base kept
    _git(root, *setup)
    _git(root, "config", "core.splitIndex", "true")  # harness's builds write split indexes
    for text in ("b\n", "c\n"):
        (root / "a.txt").write_text(text)
        kept, _ = build_tree(root, head, paths=["a.txt", "docs/a.md"], blobs={}, checks=checks)
        for shared in (root / ".git").glob("sharedindex.*"):
            shared.unlink()  # as git's own expiry does (splitIndex.sharedIndexExpire)
        fresh, _ = build_tree(root, head, paths=["a.txt", "docs/a.md"], blobs={})
        assert kept == fresh
        assert "src/app.py" in _names(root, kept)


def test_a_base_pruned_by_the_user_s_gc_gives_no_tree_with_missing_objects(
    tmp_path: Path,
) -> None:
    """The user drops a branch and prunes (`git gc --prune=now`) the commit a run had
    built on: git cannot read it any more; a build from the kept index either fails as
    git does or gives a tree whose every object is in the repository."""
    root = _repo(tmp_path / "p")
    _git(root, "switch", "-q", "-c", "side")
    (root / "x.txt").write_text("only on the side\n")
    _git(root, "add", "x.txt")
    _git(root, "commit", "-q", "-m", "side")
    side = _git(root, "rev-parse", "HEAD")
    _git(root, "switch", "-q", "-")
    checks = ConfigChecks()
    (root / "a.txt").write_text("a\n")
    build_tree(root, side, paths=["a.txt"], blobs={}, checks=checks)  # kept
    _git(root, "branch", "-q", "-D", "side")
    _git(root, "reflog", "expire", "--expire=now", "--all")
    _git(root, "gc", "-q", "--prune=now")
    with pytest.raises(GitError):
        build_tree(root, side, paths=["a.txt"], blobs={})  # git: no such object
    with pytest.raises(GitError):  # x.txt's blob is gone: git refuses to write the tree
        build_tree(root, side, paths=["docs/a.md"], blobs={}, checks=checks)
    (root / "x.txt").write_text("now from the work tree\n")
    tree, _ = build_tree(root, side, paths=["x.txt"], blobs={}, checks=checks)
    listing = _git(root, "ls-tree", "-r", "-t", tree).splitlines()
    objects = "".join(line.split()[2] + "\n" for line in listing)
    missing = subprocess.run(
        ["git", "-C", root, "cat-file", "--batch-check"],
        input=objects.encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "missing" not in missing, missing
    assert sorted(_names(root, tree)) == [
        "docs/a.md",
        "feature_list.json",
        "src/app.py",
        "x.txt",
    ]


def _conflict(root: Path, path: str) -> None:
    """Write a three-stage conflict for ``path`` into ``root``'s own index."""
    blob = _git(root, "rev-parse", f"HEAD:{path}")
    stages = "".join(f"100644 {blob} {stage}\t{path}\n" for stage in (1, 2, 3))
    subprocess.run(
        ["git", "-C", root, "update-index", "--index-info"],
        input=f"0 {'0' * 40}\t{path}\n{stages}".encode(),
        check=True,
    )


def test_the_unmerged_answer_is_each_work_tree_s_own_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A linked worktree has its own index: a conflict in it is found there and not in
    the main work tree, and the same conflicted bytes copied into the main index are
    found there too; an index ``GIT_INDEX_FILE`` names in harness's environment is never
    the one read (git is not pointed at it either)."""
    root = _repo(tmp_path / "p")
    linked = tmp_path / "linked"
    _git(root, "worktree", "add", "-q", str(linked), "-b", "other")
    checks = ConfigChecks()
    assert repository_state(root, checks) is None
    assert repository_state(linked, checks) is None
    _conflict(linked, "feature_list.json")
    why = repository_state(linked, checks)
    assert why is not None and "feature_list.json" in why
    assert repository_state(root, checks) is None
    index = root / ".git" / "index"
    clean = index.read_bytes()
    conflicted = (root / ".git" / "worktrees" / "linked" / "index").read_bytes()
    index.write_bytes(conflicted)  # the bytes the linked worktree's answer was kept for
    assert repository_state(root, checks) is not None
    index.write_bytes(clean)
    monkeypatch.setenv("GIT_INDEX_FILE", str(root / ".git" / "worktrees" / "linked" / "index"))
    assert repository_state(root, checks) is None
    assert repository_state(root) is None
