"""Shared fixtures: a temporary project with a git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from artifacts import git_safety

# pg_server, pg_url: a real PostgreSQL of the test session; where: each journal store;
# docker_client, busybox_image: the Docker engine and the offline test image; rewrite_cache:
# the controller of pytest-xdist rewrites the test modules once for every worker.
pytest_plugins = ["tests.pg", "tests.stores", "tests.docker_engine", "tests.rewrite_cache"]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@localhost",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@localhost",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow run first, each file's in its order: pytest-xdist hands tests out
    in this order, and a test of minutes started last keeps one worker busy after the
    others end (a 267 s TUI test, the last file's, ran ~210 s alone at the end of a
    `-n 4` run)."""
    refuse_xdist_groups(items)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


XDIST_GROUP_REFUSED = (
    "{nodeid}: @pytest.mark.xdist_group does not keep tests apart here: pytest-xdist 3.8 "
    "marks a group in Item._nodeid, which pytest 9 no longer reads, so `--dist loadgroup` "
    "hands the group's tests to any worker. Give the test what it must not share (its own "
    "folder, port or database) instead."
)


def refuse_xdist_groups(items: list[pytest.Item]) -> None:
    """A test that counts on running apart from others through ``xdist_group`` fails at
    collection, saying why, rather than running beside them."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            raise pytest.UsageError(XDIST_GROUP_REFUSED.format(nodeid=item.nodeid))


def git(root: Path, *args: str) -> str:
    """Run plain git in ``root`` (no user config) and return its stdout."""
    done = subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture(autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's state directory (journal keys) of each test, never the real one."""
    home = tmp_path_factory.mktemp("state-home")
    monkeypatch.setenv("HARNESS_STATE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def user_config_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The user-level config folder of each test (harness's ~/.config/harness), never the
    real one."""
    home = tmp_path_factory.mktemp("config-home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def git_project(tmp_path: Path) -> Path:
    """A project folder with a git repository and one commit (README.md, .gitignore)."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# a project\n", encoding="utf-8")
    (root / ".gitignore").write_text(".harness/\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


@pytest.fixture
def no_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """git knows no user here: no global or system config, no identity variables."""
    home = tmp_path_factory.mktemp("home-without-identity")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "EMAIL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every time the config check has git read a repository's config (the function that
    asks, counted): the roots it read, in order."""
    seen: list[Path] = []
    real = git_safety.dangerous_config

    def counting(root: Path, *files: object) -> list[git_safety.DangerousKey]:
        seen.append(root)
        return real(root, *files)  # type: ignore[arg-type]

    monkeypatch.setattr(git_safety, "dangerous_config", counting)
    return seen


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The arguments of every hardened git command started (the config check's too)."""
    seen: list[tuple[str, ...]] = []
    real = git_safety.run_git_unchecked

    def counting(root: Path | str, *args: str, **kwargs: object) -> object:
        seen.append(args)
        return real(root, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(git_safety, "run_git_unchecked", counting)
    return seen
