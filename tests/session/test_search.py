"""list_files and grep as the tool worker runs them: a glob matched during one walk (the
files pathlib's glob finds, without following a link), bounded reads, and answers for
input built to hang or crash them."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from session.tools import search

TREE = [
    "README.md",
    ".hidden.py",
    "src/app.py",
    "src/util/strings.py",
    "src/util/data.json",
    "tests/test_app.py",
    "docs/a/b/c/deep.md",
]
PATTERNS = [
    "*", "**/*", "*.py", "**/*.py", "src/*", "src/**/*.py", "**/util/*", "*/*/*.py",
    "docs/**/*.md", "src/util/strings.py", "**/[dt]*.*", "src/?pp.py", "nothing/*",
]  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in TREE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"in {name}\n")
    return tmp_path


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_glob_finds_the_files_pathlib_finds(tree: Path, pattern: str) -> None:
    expected = sorted(p.relative_to(tree).as_posix() for p in tree.glob(pattern) if p.is_file())
    answer = search.list_files(str(tree), pattern, 30)
    found = [] if answer["output"] == "(no files match)" else answer["output"].split("\n")
    assert found == expected


def test_a_trailing_double_star_means_every_file_below(tree: Path) -> None:
    listed = search.list_files(str(tree), "src/**", 30)["output"].split("\n")
    assert listed == ["src/app.py", "src/util/data.json", "src/util/strings.py"]


def test_links_the_pattern_reaches_are_counted_not_followed(tree: Path) -> None:
    (tree / "lib").symlink_to("src")  # inside the project: still not followed
    (tree / "top.py").symlink_to("src/app.py")
    listed = search.list_files(str(tree), "src/*.py", 30)["output"]
    assert listed == "src/app.py"
    listed = search.list_files(str(tree), "lib/*.py", 30)["output"]
    assert "lib/" not in listed and "[skipped 1 symbolic link" in listed
    listed = search.list_files(str(tree), "*.py", 30)["output"]
    assert "top.py" not in listed and "[skipped 1 symbolic link" in listed
    listed = search.list_files(str(tree), "**/*.md", 30)["output"]  # ** passes no link
    assert "skipped" not in listed


def test_a_fifo_does_not_block_grep_or_a_read(tree: Path) -> None:
    os.mkfifo(tree / "src" / "pipe.py")
    done: list[object] = []
    thread = threading.Thread(
        target=lambda: done.append(search.grep(str(tree), "in", "**/*.py", 30)), daemon=True
    )
    thread.start()
    thread.join(timeout=60)
    assert done, "grep blocked on a FIFO"
    assert "src/app.py:1: in src/app.py" in done[0]["output"]  # type: ignore[index]
    with pytest.raises(OSError, match="not a regular file"):
        search.read_bounded(None, str(tree / "src" / "pipe.py"))


def test_grep_answers_a_bad_or_huge_expression(tree: Path) -> None:
    assert "bad regular expression" in search.grep(str(tree), "(", "*", 30)["output"]
    huge = search.grep(str(tree), "a{99999999999}", "*", 30)
    assert huge["status"] == "error" and "bad regular expression" in huge["output"]


def test_a_walk_that_reaches_its_limits_says_so(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_WALKED", 3)
    listed = search.list_files(str(tree), "**/*", 30)["output"]
    assert "stopped after 3 entries" in listed and "narrow the pattern" in listed
    late = search.grep(str(tree), "in", "**/*", 0)["output"]
    assert "time limit" in late


def test_patterns_leaving_the_project_are_refused(tree: Path) -> None:
    for pattern in ("/etc/*", "../*", "src/../../*"):
        answer = search.list_files(str(tree), pattern, 30)
        assert answer["status"] == "error" and "inside the project" in answer["output"]
