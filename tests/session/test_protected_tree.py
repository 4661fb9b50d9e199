"""The protected paths on disk against HEAD: extras (ignored ones too) are found, the
user's from wake kept while unchanged, the rest removed; bytecode of protected sources
cleared; no planted link leads the removal out of the project."""

from __future__ import annotations

import os
from pathlib import Path

from session import protected_tree
from session.protected import restore_protected
from tests.conftest import git


def _commit(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "files")


def test_extras_are_what_head_does_not_hold_ignored_included(git_project: Path) -> None:
    _commit(git_project, {"tests/acc/test_a.py": "x\n", ".gitignore": "*.pyc\nlocal/\n"})
    (git_project / "tests/acc/__pycache__").mkdir()
    (git_project / "tests/acc/__pycache__/test_a.cpython-311.pyc").write_bytes(b"pyc")
    (git_project / "tests/acc/local").mkdir()
    (git_project / "tests/acc/local/data.json").write_text("{}")
    (git_project / "tests/acc/new.py").write_text("y\n")
    found = protected_tree.extras(git_project, ["tests/acc", "conftest.py"])
    assert sorted(found) == [
        "tests/acc/__pycache__/test_a.cpython-311.pyc",
        "tests/acc/local/data.json",
        "tests/acc/new.py",
    ]
    (git_project / "conftest.py").write_text("z\n")  # a protected file HEAD lacks
    assert "conftest.py" in protected_tree.extras(git_project, ["conftest.py"])


def test_the_users_extras_stay_while_unchanged_the_rest_goes(git_project: Path) -> None:
    _commit(git_project, {"tests/acc/test_a.py": "x\n", ".gitignore": "*.json\n"})
    mine = git_project / "tests/acc/mine.json"
    touched = git_project / "tests/acc/touched.json"
    mine.write_text("{}")
    touched.write_text("{}")
    known = protected_tree.extras(git_project, ["tests/acc"])
    touched.write_text('{"changed": 1}')  # after wake: same name, not the same file
    (git_project / "tests/acc/conftest.py").write_text("planted\n")
    removed = restore_protected(git_project, ["tests/acc"], known=known)
    assert removed == ["tests/acc/conftest.py", "tests/acc/touched.json"]
    assert mine.exists() and not touched.exists()
    assert (git_project / "tests/acc/test_a.py").read_text() == "x\n"


def test_bytecode_of_a_protected_source_is_cleared_wherever_python_looks(
    git_project: Path,
) -> None:
    _commit(git_project, {"tests/test_a.py": "x\n", "tests/test_b.py": "y\n"})
    cache = git_project / "tests/__pycache__"
    cache.mkdir()
    for name in (
        "test_a.cpython-311.pyc",
        "test_a.cpython-311-pytest-8.4.pyc",
        "test_b.cpython-311.pyc",
    ):
        (cache / name).write_bytes(b"forged")
    removed = restore_protected(git_project, ["tests/test_a.py"])
    assert sorted(removed) == [
        "tests/__pycache__/test_a.cpython-311-pytest-8.4.pyc",
        "tests/__pycache__/test_a.cpython-311.pyc",
    ]
    assert os.listdir(cache) == ["test_b.cpython-311.pyc"]  # not protected: not the check's


def test_a_protected_path_reached_through_a_link_is_left_alone(
    git_project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "acc").mkdir(parents=True)
    (outside / "acc" / "precious.txt").write_text("not the project's\n")
    (git_project / "tests").symlink_to(outside)  # `tests` swapped for a link out
    assert protected_tree.extras(git_project, ["tests/acc"]) == {}
    assert restore_protected(git_project, ["tests/acc"]) == []
    assert (outside / "acc" / "precious.txt").exists()
