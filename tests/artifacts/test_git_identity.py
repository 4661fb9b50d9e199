"""harness's commits are by the user's git identity when there is one, harness named in a
Co-authored-by trailer; by harness only where git knows no user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from artifacts.git import GitRepo
from artifacts.git_commit import commit_exact
from artifacts.git_identity import user_identity, with_trailer
from artifacts.git_safety import ConfigChecks
from tests.conftest import git

TRAILER = "Co-authored-by: harness <harness@localhost>"


def who(root: Path) -> tuple[str, str, str]:
    out = git(root, "log", "-1", "--format=%an <%ae>%n%cn <%ce>%n%(trailers:key=Co-authored-by)")
    author, committer, trailer = [*out.split("\n"), "", ""][:3]
    return author, committer, trailer.strip()


def test_the_users_identity_authors_both_kinds_of_commit(
    git_project: Path, no_identity: None
) -> None:
    git(git_project, "config", "user.name", "Ada Lovelace")
    git(git_project, "config", "user.email", "ada@example.com")
    (git_project / "a.txt").write_text("1\n")
    commit_exact(git_project, "session 1: F001\n\nHarness-Session: r/1", paths=["a.txt"],
                 blobs={}, protected=[])  # fmt: skip
    assert who(git_project) == ("Ada Lovelace <ada@example.com>",) * 2 + (TRAILER,)
    message = git(git_project, "log", "-1", "--format=%B")
    assert message.endswith("Harness-Session: r/1\n" + TRAILER + "\n\n")  # one trailer block
    (git_project / "b.txt").write_text("2\n")
    with GitRepo.open(git_project) as repo:
        repo.commit("re-verify", paths=["b.txt"], trailers={"Harness-Reverify": "r"})
        assert repo.find_commit_with_trailer("Harness-Reverify", "r") is not None
    assert who(git_project) == ("Ada Lovelace <ada@example.com>",) * 2 + (TRAILER,)


def test_identity_from_the_environment_wins(
    git_project: Path, no_identity: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "CI Bot")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ci@example.com")
    (git_project / "a.txt").write_text("1\n")
    commit_exact(git_project, "x", paths=["a.txt"], blobs={}, protected=[])
    assert who(git_project)[0] == "CI Bot <ci@example.com>"


def test_without_an_identity_harness_is_the_author(git_project: Path, no_identity: None) -> None:
    (git_project / "a.txt").write_text("1\n")
    commit_exact(git_project, "x", paths=["a.txt"], blobs={}, protected=[])
    assert who(git_project) == ("harness <harness@localhost>",) * 2 + ("",)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("subject", f"subject\n\n{TRAILER}\n"),
        ("subject\n\nbody text", f"subject\n\nbody text\n\n{TRAILER}\n"),
        ("subject\n\nHarness-Init: 1", f"subject\n\nHarness-Init: 1\n{TRAILER}\n"),
        (f"subject\n\n{TRAILER}", f"subject\n\n{TRAILER}\n"),
    ],
)
def test_the_trailer_joins_the_trailer_block(message: str, expected: str) -> None:
    assert with_trailer(message) == expected


def _user_asks(asked: list[tuple[str, ...]]) -> int:
    return sum(1 for args in asked if args[:2] == ("config", "--get-regexp"))


def test_a_run_asks_for_the_identity_once_while_its_files_are_unchanged(
    git_project: Path,
    no_identity: None,
    asked: list[tuple[str, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run's commits ask git for user.* once (it asked at every commit); a change to any
    file git reads it from (global, XDG, local, GIT_CONFIG_GLOBAL) is read at once."""
    home = Path(os.environ["HOME"])
    (home / ".gitconfig").write_text("[user]\n\tname = Ada\n\temail = ada@example.com\n")
    checks = ConfigChecks()
    for name in ("a", "b", "c"):
        (git_project / f"{name}.txt").write_text(name)
        commit_exact(git_project, name, paths=[f"{name}.txt"], blobs={}, protected=[],
                     checks=checks)  # fmt: skip
        assert who(git_project)[0] == "Ada <ada@example.com>"
    assert _user_asks(asked) == 1
    (home / ".gitconfig").write_text("[user]\n\tname = Bea\n\temail = ada@example.com\n")
    assert user_identity(git_project, checks) == ("Bea", "ada@example.com")
    xdg = Path(os.environ["XDG_CONFIG_HOME"]) / "git"
    xdg.mkdir(parents=True)
    (xdg / "config").write_text("[user]\n\temail = xdg@example.com\n")
    assert user_identity(git_project, checks) == ("Bea", "ada@example.com")  # ~ wins
    (home / ".gitconfig").write_text("[user]\n\tname = Bea\n")
    assert user_identity(git_project, checks) == ("Bea", "xdg@example.com")
    git(git_project, "config", "user.name", "Local")
    assert user_identity(git_project, checks) == ("Local", "xdg@example.com")
    other = home / "other.gitconfig"
    other.write_text("[user]\n\tname = Other\n\temail = o@example.com\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(other))
    assert user_identity(git_project, checks) == ("Local", "o@example.com")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL")
    asked.clear()
    assert user_identity(git_project, checks) == ("Local", "xdg@example.com")
    assert _user_asks(asked) == 0  # the same files, the same bytes: the answer kept


def test_an_included_config_is_read_every_time(
    git_project: Path, no_identity: None, asked: list[tuple[str, ...]]
) -> None:
    """A global config that includes another file (or includes on a condition, the branch
    say) is asked each time: the identity may come from a file outside what is kept."""
    home = Path(os.environ["HOME"])
    (home / "me.gitconfig").write_text("[user]\n\tname = Ada\n\temail = ada@example.com\n")
    (home / ".gitconfig").write_text(f"[include]\n\tpath = {home / 'me.gitconfig'}\n")
    checks = ConfigChecks()
    assert user_identity(git_project, checks) == ("Ada", "ada@example.com")
    (home / "me.gitconfig").write_text("[user]\n\tname = Bea\n\temail = ada@example.com\n")
    assert user_identity(git_project, checks) == ("Bea", "ada@example.com")
    assert _user_asks(asked) == 2
