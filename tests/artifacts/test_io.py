"""Atomic writes and careful reads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from artifacts.io import atomic_write, parse_json, read_text
from harness.errors import ArtifactError


def test_atomic_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "init.sh"
    target.write_text("old")
    target.chmod(0o755)
    atomic_write(target, "new ✓", root=tmp_path)
    assert target.read_text("utf-8") == "new ✓"
    assert target.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["init.sh"]  # no temp file left


def test_atomic_write_leaves_old_content_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.json"
    target.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ArtifactError, match="No space left on device"):
        atomic_write(target, b"new", root=tmp_path)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_atomic_write_refuses_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "link.json").symlink_to(tmp_path / "out.json")
    with pytest.raises(ArtifactError, match="outside the project"):
        atomic_write(root / "link.json", "x", root=root)
    assert not (tmp_path / "out.json").exists()


def test_atomic_write_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot be written"):
        atomic_write(tmp_path / "nope" / "f.json", "x", root=tmp_path)


def test_atomic_write_refuses_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(ArtifactError, match="directory"):
        atomic_write(tmp_path / "d", "x", root=tmp_path)


def test_read_text_follows_a_symlink_inside_the_project(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("hello")
    (tmp_path / "link.md").symlink_to("real.md")
    assert read_text(tmp_path / "link.md", root=tmp_path) == "hello"


def test_read_text_refuses_a_symlink_outside(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (tmp_path / "secret").write_text("s")
    (root / "f.md").symlink_to("../secret")
    with pytest.raises(ArtifactError, match="outside the project") as caught:
        read_text(root / "f.md", root=root)
    assert caught.value.file == "f.md"


def test_read_text_refuses_a_big_file_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(ArtifactError, match="over the limit"):
        read_text(big, root=tmp_path)
    assert time.perf_counter() - started < 0.2


def test_read_text_refuses_a_bom(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"\xef\xbb\xbf{}")
    with pytest.raises(ArtifactError, match="byte-order mark"):
        read_text(tmp_path / "f", root=tmp_path)


def test_read_text_names_the_offset_of_bad_bytes(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"ok\nline two \xff here")
    with pytest.raises(ArtifactError) as caught:
        read_text(tmp_path / "f", root=tmp_path)
    assert caught.value.where == "byte 12 (line 2)"


def test_read_text_empty(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(ArtifactError, match="empty"):
        read_text(tmp_path / "f", root=tmp_path)
    assert read_text(tmp_path / "f", root=tmp_path, allow_empty=True) == ""


def test_read_text_keeps_line_endings(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"a\r\nb\n")
    assert read_text(tmp_path / "f", root=tmp_path) == "a\r\nb\n"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": 1,\n "a": 2}', 'key "a"'),
        ('{"a": [1, 2}', "line 1, column 12 (character 11)"),
        ('{"a": Infinity}', "line 1, column 7"),
    ],
)
def test_parse_json_errors(text: str, where: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        parse_json(text, "f.json")
    assert caught.value.where == where


def test_parse_json_deep_nesting() -> None:
    with pytest.raises(ArtifactError, match="nested too deeply"):
        parse_json("[" * 100_000 + "]" * 100_000, "f.json")


def test_readers_never_see_a_partial_write(tmp_path: Path) -> None:

    target = tmp_path / "f.json"
    versions = {b"a" * 300_000, b"b" * 300_000}
    target.write_bytes(b"a" * 300_000)
    seen: set[bytes] = set()
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.add(target.read_bytes())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(40):
            atomic_write(target, b"ab"[n % 2 : n % 2 + 1] * 300_000, root=tmp_path)
    finally:
        done.set()
        thread.join()
    assert seen and seen <= versions


def test_atomic_write_never_writes_through_a_link_inside(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("kept")
    link = tmp_path / "link.md"
    link.symlink_to("real.md")
    with pytest.raises(ArtifactError, match="is a symlink") as caught:
        atomic_write(link, "x", root=tmp_path)
    assert caught.value.file == "link.md"
    assert (tmp_path / "real.md").read_text() == "kept" and link.is_symlink()
    atomic_write(link, "harness's own", root=tmp_path, replace_link=True)
    assert not link.is_symlink() and link.read_text() == "harness's own"
    assert (tmp_path / "real.md").read_text() == "kept"
    assert oct(link.stat().st_mode & 0o777) == oct(0o644)


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
import artifacts.io
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # killed before the rename
root = Path(sys.argv[1])
artifacts.io.atomic_write(root / "progress.md", "half\\n", root=root)
"""


def test_a_temp_file_a_killed_writer_left_is_removed_by_the_next_write(tmp_path: Path) -> None:
    """A SIGKILL between the temp file and the rename (the kill-fuzz found one:
    `?? .progress.md.<x>.tmp` in the user's git status); the temp file bears harness's mark
    and its writer's pid, the next write removes it, and leaves a live writer's alone."""

    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "progress.md").write_text("old\n")
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=repo)
    assert done.returncode == -9
    left = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".progress.md.harness-"), left
    live = tmp_path / f".progress.md.harness-{os.getpid()}-livewrit.tmp"
    live.write_text("being written")
    atomic_write(tmp_path / "progress.md", "new\n", root=tmp_path)
    assert (tmp_path / "progress.md").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "progress.md"]


def test_a_writer_that_remembers_sweeps_a_folder_once_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's writes (``swept``: its memory) scan a file's folder for killed writers'
    temp files at the first write of that name only: each scan reads the whole folder."""

    scans: list[str] = []
    scandir = os.scandir

    def counted(path: Any) -> Any:
        scans.append(os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counted)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".a.md.harness-{dead.pid}-abcdefgh.tmp"
    stale.write_text("left by a killed writer")
    swept: set[tuple[str, str]] = set()
    for text in ("1", "2", "3"):
        atomic_write(tmp_path / "a.md", text, root=tmp_path, swept=swept)
    assert not stale.exists() and (tmp_path / "a.md").read_text() == "3"
    assert scans == [str(tmp_path)]
    atomic_write(tmp_path / "b.md", "b", root=tmp_path, swept=swept)
    assert scans == [str(tmp_path)] * 2
    for text in ("1", "2"):  # no memory: every write scans
        atomic_write(tmp_path / "a.md", text, root=tmp_path)
    assert scans == [str(tmp_path)] * 4


def test_a_users_files_named_like_temp_files_are_never_removed(tmp_path: Path) -> None:
    """The sweep removes only what harness made: a user's own files beside progress.md,
    named like a temp file of it (or like the unmarked temp files of older harness
    versions), idle for an hour and open nowhere, all stay through every write."""

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: a pid no process has now
    hour_ago = time.time() - 3600
    target = tmp_path / "progress.md"
    target.write_text("old\n")
    users = [
        ".progress.md.original.tmp",
        ".progress.md.hqtnh9u6.tmp",  # older harness's naming, no pid
        f".progress.md.{dead.pid}-abcdefgh.tmp",  # a6bf268's naming, dead pid, no mark
        f".progress.md.harness-{dead.pid}-notes.tmp",
        f".progress.md.harness-{dead.pid}-abcdefgh.tmp.bak",
        f"progress.md.harness-{dead.pid}-abcdefgh.tmp",
        f".progress.md.harness-{dead.pid}-abcdefgh.txt",
        f".other.md.harness-{dead.pid}-abcdefgh.tmp",
    ]
    for name in users:
        (tmp_path / name).write_text("the user's")
        os.utime(tmp_path / name, (hour_ago, hour_ago))
    folder = tmp_path / f".progress.md.harness-{dead.pid}-folder12.tmp"
    folder.mkdir()
    (folder / "kept").write_text("the user's")
    atomic_write(target, "new\n", root=tmp_path)
    atomic_write(target, "newer\n", root=tmp_path)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted([*users, folder.name, "progress.md"])
    assert all((tmp_path / n).read_text() == "the user's" for n in users)
    assert (folder / "kept").read_text() == "the user's"
