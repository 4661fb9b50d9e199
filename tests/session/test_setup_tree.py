"""The setup phase's clean checkout: the trusted commit, the tree made from it, and what
init.sh built there moved into the project. Real git; runners are the scripted one (a
command is a Python function on the tree) and, for the mount, real bubblewrap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from artifacts.git_state import trusted_commit
from runners import CommandResult
from runners.bwrap import BubblewrapRunner, bwrap_version
from session.setup_tree import adopt, checkout, new_paths, run_setup, tracked
from tests.conftest import git


def _commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / "scripts").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "scripts" / "setup.sh").write_text("echo human\n")
    (root / ".gitignore").write_text("env/\nbuild/\n.harness/\n")
    (root / "init.sh").write_text("sh scripts/setup.sh\n")
    _commit(root, "first: the person's")
    return root


def test_the_trusted_commit_is_the_newest_no_session_made(repo: Path) -> None:
    human = git(repo, "rev-parse", "HEAD").strip()
    (repo / "scripts" / "setup.sh").write_text("echo agent\n")
    _commit(repo, "session 1\n\nHarness-Session: r/1")
    assert trusted_commit(repo) == human
    (repo / "README").write_text("mine\n")
    mine = _commit(repo, "a person's commit on top")
    assert trusted_commit(repo) == mine


def test_the_checkout_holds_the_commit_s_files_only(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    (repo / "scripts" / "setup.sh").write_text("echo agent\n")  # uncommitted
    (repo / "env").mkdir()
    (repo / "env" / "planted").write_text("x")  # ignored, the agent's
    tree = checkout(repo, sha)
    assert tree.is_relative_to(repo / ".harness" / "setup")
    assert (tree / "scripts" / "setup.sh").read_text() == "echo human\n"
    assert not (tree / "env").exists() and not (tree / ".git").exists()
    assert checkout(repo, sha) != tree and not tree.exists()  # a killed wake's is removed


def test_products_git_ignores_move_in_and_the_rest_is_dropped(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    (repo / "env").mkdir()
    (repo / "env" / "planted").write_text("the agent's")
    tree = checkout(repo, sha)
    (tree / "env" / "bin").mkdir(parents=True)
    (tree / "env" / "bin" / "tool").write_text("built")
    (tree / "scripts" / "generated").mkdir()  # a new folder under a tracked one
    (tree / "stray.txt").write_text("not ignored")
    (tree / "scripts" / "setup.sh").write_text("changed by init.sh")
    assert new_paths(tree, tracked(repo, sha)) == ["env", "scripts/generated", "stray.txt"]
    products = adopt(repo, tree, sha, [])
    assert products.kept == ["env"]  # the project's own: never replaced
    assert sorted(products.dropped) == ["scripts/generated", "stray.txt"]
    assert (repo / "env" / "planted").read_text() == "the agent's"
    assert not (repo / "stray.txt").exists()
    assert (repo / "scripts" / "setup.sh").read_text() == "echo human\n"
    assert "stray.txt" in products.note(sha) and "env" in products.note(sha)
    (repo / "env" / "planted").unlink()
    (repo / "env").rmdir()
    for wake in (1, 2):  # the first wake moves it in, the next replaces its own
        tree = checkout(repo, sha)
        (tree / "env" / "bin").mkdir(parents=True)
        (tree / "env" / "bin" / "tool").write_text(f"built {wake}")
        assert adopt(repo, tree, sha, []).moved == ["env"]
        assert (repo / "env" / "bin" / "tool").read_text() == f"built {wake}"


def test_a_product_behind_a_link_or_tracked_at_head_is_not_moved(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "web").mkdir()
    (repo / "web" / "index.js").write_text("1")
    sha = _commit(repo, "the person's web folder")
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "lib").symlink_to(outside)  # the agent's link out of the project
    (repo / "web" / "index.js").unlink()
    (repo / "web").rmdir()
    (repo / "web").symlink_to(outside)  # a tracked folder swapped for a link out
    (repo / "build").mkdir()
    (repo / "build" / "kept").write_text("tracked")
    git(repo, "add", "-f", "build/kept")
    _commit(repo, "session\n\nHarness-Session: r/1")
    tree = checkout(repo, sha)
    (tree / "lib").mkdir()
    (tree / "lib" / "env").mkdir()
    (tree / "build").mkdir()
    (tree / "build" / "out").write_text("built")
    (tree / "web" / "env").mkdir()
    (tree / ".gitignore").write_text("env/\nbuild/\n.harness/\nlib/\n")
    products = adopt(repo, tree, sha, [])
    assert "web/env" in products.refused
    assert "lib" in products.refused or "lib" in products.dropped
    assert not any(outside.iterdir())
    assert "build" in products.refused
    assert (repo / "build" / "kept").read_text() == "tracked"


class _TreeRunner:
    """Runs the setup as a function of the tree it is given (and records the call)."""

    name = "fake"
    sandboxed = True

    def __init__(self) -> None:
        self.trees: list[Path | None] = []

    def run(self, command: str, **options: object) -> CommandResult:
        tree = options.get("tree")
        assert isinstance(tree, Path)
        self.trees.append(tree)
        (tree / "env").mkdir()
        (tree / "env" / "ran").write_text((tree / "scripts" / "setup.sh").read_text())
        return CommandResult(command=command, exit_code=0, stdout="", stderr="", duration_s=0)


def test_run_setup_runs_the_trusted_tree_and_leaves_no_checkout(repo: Path) -> None:
    (repo / "scripts" / "setup.sh").write_text("echo agent\n")
    _commit(repo, "session\n\nHarness-Session: r/1")
    runner = _TreeRunner()
    result = run_setup(repo, runner, "sh init.sh", [])  # type: ignore[arg-type]
    assert (repo / "env" / "ran").read_text() == "echo human\n"
    assert result.note is not None and "clean checkout" in result.note
    assert runner.trees and not runner.trees[0].exists()


@pytest.mark.skipif(bwrap_version() is None, reason="bubblewrap cannot run here")
def test_bubblewrap_mounts_the_tree_where_the_project_is(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    (repo / "scripts" / "setup.sh").write_text("echo agent\n")
    tree = checkout(repo, sha)
    runner = BubblewrapRunner(repo)
    result = runner.run(
        "pwd; cat scripts/setup.sh; git log --format=%s -1; mkdir -p env; touch env/x",
        phase="setup",
        tree=tree,
    )
    assert result.stdout.split("\n")[:3] == [
        str(repo.resolve()),
        "echo human",
        "first: the person's",
    ]
    assert (tree / "env" / "x").exists() and not (repo / "env").exists()
    assert runner.run("touch .git/forged; echo done", tree=tree).stdout == "done\n"
    assert not (repo / ".git" / "forged").exists()
    assert os.path.isdir(repo / ".git")
