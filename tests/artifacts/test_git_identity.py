"""harness's commits are by the user's git identity when there is one, harness named in a
Co-authored-by trailer; by harness only where git knows no user."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts.git import GitRepo
from artifacts.git_commit import commit_exact
from artifacts.git_identity import with_trailer
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
