"""A kill anywhere in init's git work ends in the same project as no kill (issue 23).

Each test kills `harness init` (SIGKILL, in a child process) at one point of its first
commit, leaving what a real kill there leaves (tests/session/stopped_at.py), resumes
with the command the user would type, and compares the project with an init that was
never killed: one init commit with the same files, the user's index equal to HEAD
(nothing staged, no file shown deleted), nothing left in git's lock files. `harness adopt`
killed between its commit and the index sync is made good by the next adopt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.artifacts.quickstart_shapes import build
from tests.conftest import git
from tests.session.support import harness_run, head_files, init_commits, make_project

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow(reason="kills its harness child")  # child harness processes


def _killed(root: Path, point: str, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_CRASH")}
    killer = [sys.executable, "-m", "tests.session.stopped_at", point, str(root.parent / "m")]
    return subprocess.run(
        [*killer, "--", "-C", str(root), *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _index(root: Path) -> dict[str, str]:
    """What the user's git sees: staged changes against HEAD and the work tree's status."""
    return {
        "staged": git(root, "diff", "--cached", "--name-status", "HEAD"),
        "status": git(root, "status", "--porcelain", "--untracked-files=all"),
        "locks": " ".join(sorted(str(p) for p in (root / ".git").rglob("*.lock"))),
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], dict[str, str]]:
    root = make_project(tmp_path_factory.mktemp("reference") / "p", count=1)
    done = harness_run(root, "init", "--spec", str(root / "SPEC.md"))
    assert done.returncode == 0, done.stderr
    return head_files(root), _index(root)


def _same_as_reference(root: Path, reference: tuple[set[str], dict[str, str]]) -> None:
    files, index = reference
    assert init_commits(root) == 1
    assert head_files(root) == files
    assert _index(root) == index
    assert index["staged"] == "" and index["locks"] == ""


# States of .git that real `git init` processes left when killed at random moments.
HALF_MADE = [
    "description,hooks",
    "description,hooks,info,branches,refs,HEAD.lock",
    "description,hooks,info,branches,refs,HEAD,config.lock",
    "description,hooks,info,branches,refs,HEAD,config",
]


@pytest.mark.parametrize("entries", HALF_MADE)
def test_a_kill_inside_git_init_is_made_good_on_resume(
    tmp_path: Path, entries: str, reference: tuple[set[str], dict[str, str]]
) -> None:
    root = make_project(tmp_path / "p", count=1)
    spec = str(root / "SPEC.md")
    killed = _killed(root, f"git-init:{entries}", "init", "--spec", spec)
    assert killed.returncode == -9, killed.stderr
    assert not (root / ".git" / "objects").exists()  # half made
    done = harness_run(root, "init", "--spec", spec)
    assert done.returncode == 0, done.stderr
    assert "an interrupted `git init` left it half made" in done.stderr
    _same_as_reference(root, reference)


def test_a_half_made_git_inside_another_repository_never_touches_that_one(
    tmp_path: Path, reference: tuple[set[str], dict[str, str]]
) -> None:
    """git walks up from a .git it does not take: the outer repository must stay as is."""
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q", "-b", "main")
    (outer / "README.md").write_text("the outer project\n")
    git(outer, "add", "README.md")
    git(outer, "commit", "-qm", "outer")
    before = (git(outer, "rev-parse", "HEAD"), git(outer, "ls-files", "--stage"))
    root = make_project(outer / "p", count=1)
    spec = str(root / "SPEC.md")
    killed = _killed(root, "git-init:description,hooks,info", "init", "--spec", spec)
    assert killed.returncode == -9, killed.stderr
    done = harness_run(root, "run")  # what the user types after any interruption
    assert done.returncode == 0, done.stderr
    assert (git(outer, "rev-parse", "HEAD"), git(outer, "ls-files", "--stage")) == before
    assert git(root, "rev-parse", "--show-toplevel").strip() == str(root)
    assert init_commits(root) == 1


def test_a_git_folder_with_the_users_data_is_never_removed(tmp_path: Path) -> None:
    """A .git git does not take but that holds a ref (not what a killed `git init` leaves)
    is refused, named, and left as it is."""
    root = make_project(tmp_path / "p", count=1)
    spec = str(root / "SPEC.md")
    killed = _killed(root, "git-init:description,hooks,info,refs", "init", "--spec", spec)
    assert killed.returncode == -9, killed.stderr
    (root / ".git" / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (root / ".git" / "refs" / "heads" / "work").write_text("0" * 40 + "\n")
    done = harness_run(root, "init", "--spec", spec)
    assert done.returncode == 2, done.stderr
    assert "is not a git repository git can use" in done.stderr
    assert "refs (work)" in done.stderr and "mv .git .git.broken" in done.stderr
    assert (root / ".git" / "refs" / "heads" / "work").exists()


def test_a_kill_inside_update_ref_leaves_locks_that_the_resume_clears(
    tmp_path: Path, reference: tuple[set[str], dict[str, str]]
) -> None:
    root = make_project(tmp_path / "p", count=1)
    spec = str(root / "SPEC.md")
    killed = _killed(root, "update-ref", "init", "--spec", spec)
    assert killed.returncode == -9, killed.stderr
    assert (root / ".git" / "HEAD.lock").exists()
    assert (root / ".git" / "refs" / "heads" / "main.lock").exists()
    done = harness_run(root, "init", "--spec", spec)
    assert done.returncode == 0, done.stderr
    assert "removed .git/HEAD.lock: a stale git lock" in done.stderr
    _same_as_reference(root, reference)


def test_a_kill_between_the_commit_and_the_index_sync_leaves_the_users_index_right(
    tmp_path: Path, reference: tuple[set[str], dict[str, str]]
) -> None:
    """The commit is recovered (found by its trailer) on resume; the index sync is not
    part of that step, so it runs too: no committed file shows as a staged deletion."""
    root = make_project(tmp_path / "p", count=1)
    spec = str(root / "SPEC.md")
    killed = _killed(root, "index-sync", "init", "--spec", spec)
    assert killed.returncode == -9, killed.stderr
    assert init_commits(root) == 1
    assert "D  feature_list.json" in git(root, "status", "--porcelain")  # as the kill left it
    done = harness_run(root, "init", "--spec", spec)
    assert done.returncode == 0, done.stderr
    _same_as_reference(root, reference)


def test_a_stale_index_lock_from_a_kill_inside_the_sync_is_cleared(
    tmp_path: Path, reference: tuple[set[str], dict[str, str]]
) -> None:
    root = make_project(tmp_path / "p", count=1)
    spec = str(root / "SPEC.md")
    killed = _killed(root, "index-sync", "init", "--spec", spec)
    assert killed.returncode == -9, killed.stderr
    (root / ".git" / "index.lock").write_bytes(b"")  # what a kill inside `git reset` leaves
    done = harness_run(root, "run")
    assert done.returncode == 0, done.stderr
    assert "removed .git/index.lock" in done.stderr
    files, _ = reference
    assert init_commits(root) == 1 and files <= head_files(root)
    assert git(root, "diff", "--cached", "--name-status", "HEAD") == ""
    assert git(root, "status", "--porcelain") == ""


def test_a_kill_between_adopts_commit_and_its_index_sync_is_made_good_by_the_next_adopt(
    tmp_path: Path,
) -> None:
    """The next adopt finds nothing to commit; it syncs the adopt commit's paths whose
    index entry is still the one before it, and leaves what the user staged since."""

    reference = build(tmp_path / "reference")
    done = harness_run(reference, "adopt")
    assert done.returncode == 0, done.stderr
    root = build(tmp_path / "qs")
    killed = _killed(root, "index-sync", "adopt")
    assert killed.returncode == -9, killed.stderr
    adopt = git(root, "log", "-1", "--format=%(trailers:key=Harness-Adopt,valueonly)").strip()
    assert adopt == "1"  # the commit landed
    staged = git(root, "diff", "--cached", "--name-status", "HEAD")
    assert "D\tharness.toml" in staged and "M\tfeature_list.json" in staged  # as left
    # the user goes on meanwhile: an edit of their own code, staged
    (root / "src" / "main.ts").write_text("console.log('todo 2')\n")
    git(root, "add", "src/main.ts")
    again = harness_run(root, "adopt")
    assert again.returncode == 0, again.stderr
    assert "an earlier adopt was stopped before it synced the index" in again.stdout
    assert git(root, "diff", "--cached", "--name-status", "HEAD") == "M\tsrc/main.ts\n"
    assert git(root, "status", "--porcelain") == "M  src/main.ts\n"
    shown = ["show", "--name-only", "--format=%(trailers:key=Harness-Adopt,valueonly)", "HEAD"]
    assert git(root, *shown) == git(reference, *shown)  # one adopt commit, the same files
    assert not list((root / ".git").rglob("*.lock"))
