"""`harness init` in the user's repository: build and cache output ignored by language,
the first commit's files named, commits by the user's identity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.session.support import harness_out, make_project


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def test_cache_output_stays_out_and_the_first_commit_names_its_files(
    tmp_path: Path, no_identity: None
) -> None:
    root = make_project(tmp_path / "app", count=1)
    (root / "app.py").write_text("print('hi')\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00\x01")
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "node_modules" / "x" / "index.js").write_text("1\n")
    code, out = harness_out(root, "init", "--spec", "SPEC.md", "--quiet")
    assert code == 0, out
    tracked = set(git(root, "ls-files").split())
    assert "app.py" in tracked
    assert not [p for p in tracked if "__pycache__" in p or "node_modules" in p]
    ignore = (root / ".gitignore").read_text().splitlines()
    assert ".harness/" in ignore and "__pycache__/" in ignore and ".mypy_cache/" in ignore
    assert any(line.startswith("# harness: build and cache output (Python") for line in ignore)
    named = next(line for line in out.splitlines() if "the first commit holds" in line)
    assert f"{len(tracked)} files:" in named and "app.py" in named and "SPEC.md" in named


@pytest.mark.parametrize("identity", [True, False])
def test_init_commits_as_the_user_when_git_knows_one(
    tmp_path: Path, no_identity: None, identity: bool
) -> None:
    root = make_project(tmp_path / "app", count=1)
    git(root, "init", "-q", "-b", "main")
    if identity:
        git(root, "config", "user.name", "Grace Hopper")
        git(root, "config", "user.email", "grace@example.com")
    code, out = harness_out(root, "init", "--spec", "SPEC.md", "--quiet")
    assert code == 0, out
    author = git(root, "log", "-1", "--format=%an <%ae>").strip()
    trailers = git(root, "log", "-1", "--format=%(trailers)")
    if identity:
        assert author == "Grace Hopper <grace@example.com>"
        assert "Co-authored-by: harness <harness@localhost>" in trailers
    else:
        assert author == "harness <harness@localhost>" and "Co-authored-by" not in trailers
    assert "Harness-Init: 1" in trailers
