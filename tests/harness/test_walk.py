"""The project walk: every entry but the harness's state, no link followed, fd-relative
(paths longer than PATH_MAX), iterative (no recursion limit), failing closed."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import walk

NAME = "d" * 200  # 201 bytes a level with its slash: 21 levels pass PATH_MAX (4,096)


def _chain(root: Path, depth: int, *, name: str = NAME, leaf: str = "bottom") -> str:
    """A chain of ``depth`` folders under ``root`` made fd-relative (as a shell's `cd`
    does), a file ``leaf`` at the bottom; its relative path."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open(leaf, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    return "/".join([name] * depth + [leaf])


@pytest.fixture
def deep_dir() -> Iterator[Path]:
    """A folder for trees deeper than shutil.rmtree can remove (it recurses: pytest's own
    clean-up of an old tmp_path would fail on them, in every later session): `rm -rf`
    removes it, fd-relative, whatever the test did."""
    path = Path(tempfile.mkdtemp(prefix="walk-deep-"))
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=True)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_entries_skip_the_harness_state_and_follow_no_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    root = tmp_path / "p"
    for folder in (".git/objects", ".harness", "src/deep", "vendor/lib/.git"):
        (root / folder).mkdir(parents=True)
    for name in (".git/objects/a", ".harness/journal.db", "src/deep/m.py", "vendor/lib/.git/c"):
        (root / name).write_text("x")
    os.mkfifo(root / "src" / "pipe")
    (root / "src" / "out").symlink_to(outside, target_is_directory=True)
    found = walk.Walk(root)
    paths = sorted(e.path for e in found)
    # A nested repository's .git is the workload's (only the root's are harness's); the
    # link is yielded as an entry, never walked into; the FIFO is an entry too.
    assert paths == ["src/deep/m.py", "src/out", "src/pipe", "vendor/lib/.git/c"]
    assert found.complete


def test_a_tree_deeper_than_path_max_and_the_recursion_limit_is_walked(deep_dir: Path) -> None:
    root = deep_dir / "p"
    root.mkdir()
    depth = sys.getrecursionlimit() + 100
    bottom = _chain(root, depth)
    assert len(str(root / bottom)) > 50 * 4096  # fifty times PATH_MAX
    before = _open_fds()
    found = walk.Walk(root)
    seen = {}
    for entry in found:
        seen[entry.path] = entry.stat().st_size  # fd-relative: no ENAMETOOLONG
    assert list(seen) == [bottom] and found.complete
    assert _open_fds() == before  # every folder descriptor closed


def test_a_walk_holds_a_bounded_number_of_descriptors(deep_dir: Path) -> None:
    root = deep_dir / "p"
    root.mkdir()
    _chain(root, 300, name="a")
    before = _open_fds()
    most = 0
    for _ in walk.Walk(root, folders=True):
        most = max(most, _open_fds() - before)
    assert 0 < most <= walk.OPEN_FOLDERS + 1  # the scandir of the folder being read


def test_folders_let_go_are_found_again_and_every_entry_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comb: a side file at every level of a deep chain, so the walk comes back up
    through folders whose descriptors it let go."""
    monkeypatch.setattr(walk, "OPEN_FOLDERS", 3)
    root = tmp_path / "p"
    folder = root
    expected = []
    for level in range(40):
        (folder / "side").mkdir(parents=True)
        (folder / "side" / f"f{level}").write_text("x")
        expected.append(os.path.relpath(folder / "side" / f"f{level}", root))
        folder = folder / "z"
    found = walk.Walk(root)
    assert sorted(e.path for e in found) == sorted(expected)
    assert found.complete


def test_a_folder_replaced_while_the_walk_was_away_counts_as_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walk, "OPEN_FOLDERS", 3)
    root = tmp_path / "p"
    (root / "a" / "b" / "c" / "d" / "e").mkdir(parents=True)
    (root / "a" / "b" / "side").mkdir()
    (root / "a" / "b" / "side" / "hidden").write_text("x")
    (root / "a" / "b" / "c" / "d" / "e" / "deep").write_text("x")
    found = walk.Walk(root, ordered=True)
    seen = []
    for entry in found:
        seen.append(entry.path)
        if entry.name == "deep":  # deep down: swap a folder the walk must come back to
            os.rename(root / "a" / "b", root / "a" / "b-old")
            (root / "a" / "b" / "side").mkdir(parents=True)
            (root / "a" / "b" / "side" / "planted").write_text("x")
    # Folders are walked in name order (ordered): c (with deep) before side, whose folder b was let
    # go and is now another folder: refused, not read.
    assert seen == ["a/b/c/d/e/deep"]
    assert [(item.path, item.errno) for item in found.unreadable] == [("a/b", 0)]
    assert "changed during the walk" in found.unreadable[0].reason


def test_a_folder_swapped_for_a_link_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "host.txt").write_text("x")
    root = tmp_path / "p"
    (root / "sub").mkdir(parents=True)

    def swap(path: str) -> bool:  # listed as a folder, a link by the time it is entered
        if path == "sub":
            os.rmdir(root / "sub")
            (root / "sub").symlink_to(outside, target_is_directory=True)
        return True

    found = walk.Walk(root, descend=swap)
    assert [e.path for e in found] == []
    assert [item.path for item in found.unreadable] == ["sub"]


def test_a_limit_and_a_deadline_stop_the_walk_and_say_so(tmp_path: Path) -> None:
    for index in range(30):
        (tmp_path / f"f{index}").write_text("x")
    limited = walk.Walk(tmp_path, limit=10)
    assert len(list(limited)) == 10 and "stopped after 10 entries" in limited.stopped
    late = walk.Walk(tmp_path, deadline=0.0)
    assert list(late) == [] and "time limit" in late.stopped
    assert not limited.complete and not late.complete


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="walk-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_folder_it_may_not_open_is_reported_with_its_reason(shared_dir: Path) -> None:
    root = shared_dir / "p"
    (root / "open").mkdir(parents=True)
    (root / "open" / "seen").write_text("x")
    (root / "closed").mkdir()
    (root / "closed" / "unseen").write_text("x")
    root.chmod(0o755)
    (root / "open").chmod(0o755)
    (root / "closed").chmod(0o700)  # root's own: another user cannot read it
    if os.geteuid() != 0:
        (root / "closed").chmod(0o000)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child walks as another user (root reads every folder)
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            found = walk.Walk(root)
            listed = sorted(e.path for e in found)
            os.write(write, repr((listed, [(u.path, u.errno) for u in found.unreadable])).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        listed, unread = eval(pipe.read())  # the child's repr of two lists
    os.waitpid(pid, 0)
    assert listed == ["open/seen"]
    assert unread == [("closed", errno.EACCES)]


def test_remove_tree_removes_any_depth_and_follows_no_link(deep_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    root = deep_dir / "p"
    root.mkdir()
    _chain(root, sys.getrecursionlimit() + 100)  # shutil.rmtree: RecursionError
    (root / "link").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "pipe")
    assert walk.remove_tree(root) == []
    assert not root.exists() and (outside / "keep.txt").exists()
    linked = deep_dir / "linked"
    linked.symlink_to(outside, target_is_directory=True)
    assert walk.remove_tree(linked) == []  # the link goes, not what it points at
    assert not os.path.lexists(linked) and (outside / "keep.txt").exists()
    assert walk.remove_tree(deep_dir / "absent") == []


def test_a_stamped_walk_names_every_folder_changed_since_it_was_listed(
    deep_dir: Path,
) -> None:
    """An entry moved into a folder the walk had already listed is one it did not see:
    ``changed`` names that folder, at any depth (past PATH_MAX too), and no other."""
    root = deep_dir / "p"
    root.mkdir()
    (root / "side").mkdir()
    bottom = _chain(root, 25)  # 5,000 bytes deep
    found = walk.Walk(root, stamped=True)
    assert [entry.path for entry in found] == [bottom]
    assert found.changed() == []
    deep = bottom.rpartition("/")[0]
    fd = walk.open_folder(root, deep)  # past PATH_MAX: one name at a time
    try:
        os.close(os.open("moved-in", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    os.rmdir(root / "side")
    # the top (an entry removed), the deep folder (one added), and `side` (gone)
    assert sorted(found.changed()) == sorted(["", deep, "side"])
