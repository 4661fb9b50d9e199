"""Files git would wait on: a FIFO (or a link to one) where git opens a file of the work
tree is removed before git reads it, and said; every other FIFO is left alone. Real git
and real FIFOs: each case hangs `git` without the sweep (checked with a short timeout)."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from artifacts.git import GitRepo
from artifacts.git_blockers import clear_blockers
from artifacts.git_safety import run_git
from tests.conftest import git


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a\n")
    git(root, "add", "-A")
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "one")
    return root


def _hangs(root: Path, fifo: Path, *args: str) -> bool:
    """Whether plain git (no sweep, no overrides) waits on the work tree as it is: it
    opens ``fifo`` to read before it ends (a reader waiting in its open lets a writer's
    non-blocking open succeed; that open also lets it go on). A git that neither ends nor
    opens ``fifo`` within 30 s waits on something else: True as well."""
    proc = subprocess.Popen(
        ["git", "-C", str(root), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None:
            try:
                if stat.S_ISFIFO(os.stat(fifo).st_mode):
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                    return True  # git is in its open of the FIFO
            except OSError:  # ENXIO: no reader yet; ENOENT: the FIFO is gone
                pass
            if time.monotonic() > deadline:
                return True
            time.sleep(0.005)
        return False
    finally:
        proc.kill()
        proc.wait()


def _nested_head_fifo(root: Path) -> str:
    (root / "n" / ".git" / "objects").mkdir(parents=True)
    (root / "n" / ".git" / "refs").mkdir()
    os.mkfifo(root / "n" / ".git" / "HEAD")
    return "n/.git/HEAD"


def _gitfile_to_fifo(root: Path) -> str:
    """A `.git` file sends git to an ordinary-looking folder whose HEAD is a FIFO."""
    (root / "x" / "objects").mkdir(parents=True)
    (root / "x" / "refs").mkdir()
    os.mkfifo(root / "x" / "HEAD")
    (root / "m").mkdir()
    (root / "m" / ".git").write_text("gitdir: ../x\n")
    return "x/HEAD"


def _linked_gitmodules(root: Path) -> str:
    """A gitlink in the index makes `git status` read .gitmodules, followed as a link."""
    sub = root / "sub"
    sub.mkdir()
    git(sub, "init", "-q")
    (sub / "s").write_text("s")
    git(sub, "add", "s")
    git(sub, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "s")
    git(root, "add", "sub")
    os.mkfifo(root / "pipe")
    os.symlink("pipe", root / ".gitmodules")
    return ".gitmodules"


def _mailmap(root: Path) -> str:
    os.mkfifo(root / ".mailmap")
    return ".mailmap"


CASES = {
    "nested HEAD": (_nested_head_fifo, ("status", "--porcelain")),
    "gitdir file": (_gitfile_to_fifo, ("status", "--porcelain")),
    "linked .gitmodules": (_linked_gitmodules, ("status", "--porcelain")),
    "mailmap": (_mailmap, ("log", "-1", "--format=%H")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_blocking_file_where_git_reads_is_removed_and_git_returns(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path)
    plant, args = CASES[case]
    planted = plant(root)
    fifo = Path(os.path.realpath(root / planted))  # the FIFO git opens (through a link)
    assert _hangs(root, fifo, *args), "the case does not block git: it tests nothing"
    done = run_git(root, "status", "--porcelain", timeout=20)
    assert done.returncode == 0
    assert not os.path.lexists(root / planted) or planted == ".gitmodules"
    if planted == ".gitmodules":
        assert not os.path.lexists(root / ".gitmodules")
    assert planted in capsys.readouterr().err
    assert not _hangs(root, fifo, *args)


def test_mailmap_is_not_read_by_the_harness_s_log(tmp_path: Path) -> None:
    """`git log` reads .mailmap unless told not to: the harness's log never waits on it,
    even before any sweep (log is not a work-tree reader)."""
    root = _repo(tmp_path)
    os.mkfifo(root / ".mailmap")
    with GitRepo.open(root) as repo:
        assert [c.summary for c in repo.log(5)] == ["one"]
        assert repo.find_commit_with_trailer("Harness-Session", "r/1") is None
    assert run_git(root, "log", "-1", "--format=%an", timeout=20).stdout.strip()


def test_fifos_elsewhere_and_regular_nested_repos_are_left_alone(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    os.mkfifo(root / "pipe")  # a user's named pipe, where git never opens anything
    (root / "tools").mkdir()
    os.mkfifo(root / "tools" / "fifo")
    os.symlink("/dev/null", root / "devnull-link")
    nested = root / "vendor" / "lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    os.symlink("../../../a.txt", nested / ".git" / "linked-file")
    assert clear_blockers(root) == []
    for kept in ("pipe", "tools/fifo", "devnull-link", "vendor/lib/.git/HEAD"):
        assert os.path.lexists(root / kept), kept


def test_a_fifo_gitignore_in_a_folder_and_a_link_to_a_fifo_are_removed(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "d").mkdir()
    os.mkfifo(root / "d" / ".gitattributes")
    os.mkfifo(root / "pipe")
    (root / "n" / ".git").mkdir(parents=True)
    os.symlink("../../pipe", root / "n" / ".git" / "commondir")
    assert sorted(clear_blockers(root)) == ["d/.gitattributes", "n/.git/commondir"]
    assert os.path.lexists(root / "pipe")
