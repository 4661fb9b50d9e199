"""The walk that finds a project's secret files (runners.protect.find_hidden) holds
against the tree's shape: a secret past PATH_MAX, a folder the harness may not read, a
folder swapped for a link while it is walked. It used to walk by path and pass over what
it could not open, so those secrets were shown to the sandbox.

Real files, a real second user (a forked child that drops to uid 4242) and a real process
swapping folders; nothing is mocked."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import RunnerError
from runners import protect
from tests.attacks.support import plant_deep


def _deep(root: Path, levels: int) -> str:
    """``levels`` folders below ``root`` and a secret at the bottom; its relative path."""
    return plant_deep(root, levels, ".env", b"KEY=deep\n")


@pytest.fixture
def cleared(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    subprocess.run(["rm", "-rf", str(tmp_path / "p")], check=False)


def test_a_secret_past_path_max_is_hidden_by_its_deepest_mountable_folder(
    cleared: Path,
) -> None:
    root = cleared / "p"
    root.mkdir()
    deep = _deep(root, 25)  # 5,000 bytes below the project
    (root / ".env").write_text("KEY=top\n")
    found = protect.find_hidden(root)
    assert found[0] == ".env"
    assert len(found) == 2, found
    cover = found[1]
    assert deep.startswith(cover + "/")  # a folder above the secret, covering it
    assert len(os.fsencode(f"{root}/{cover}")) < protect.MOUNT_PATH_MAX
    assert os.path.isdir(root / cover)  # reachable by path: a sandbox can mount over it


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder another user can reach (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="find-hidden-"))
    folder.chmod(0o755)
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_a_folder_the_harness_may_not_read_is_hidden_whole(shared: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second user")
    tmp_path = shared
    root = tmp_path / "p"
    (root / "backend").mkdir(parents=True)
    (root / "backend" / ".env").write_text("KEY=1\n")
    (root / "docs").mkdir()
    (root / "docs" / "a.md").write_text("doc")
    for path in [root, root / "backend", root / "backend" / ".env", root / "docs"]:
        os.chown(path, 4242, 4242)
    os.chown(tmp_path, 4242, 4242)
    (root / "backend").chmod(0)  # what a command would do before the next walk
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the harness as the project's own (non-root) user
        os.close(read)
        code = 0
        try:
            os.setgroups([])
            os.setgid(4242)
            os.setuid(4242)
            os.write(write, "\n".join(protect.find_hidden(root)).encode())
        except BaseException as error:
            os.write(2, f"{error!r}\n".encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as answer:
        found = answer.read().split("\n")
    assert os.waitpid(child, 0)[1] == 0
    assert found == ["backend"]  # covered whole: never opened up to the workload


SWAPPER = """
import os, sys
os.chdir(sys.argv[1])
while True:
    os.rename("a", "b")
    os.symlink("empty", "a")
    os.unlink("a")
    os.rename("b", "a")
"""


@pytest.mark.slow  # 7.5 CPU-s (bench/suite_census.py)
def test_a_folder_swapped_for_a_link_while_walked_never_hides_its_secret(
    tmp_path: Path,
) -> None:
    root = tmp_path / "p"
    (root / "a").mkdir(parents=True)
    (root / "a" / ".env").write_text("KEY=1\n")
    (root / "empty").mkdir()
    for i in range(2000):  # a long first listing: the swap lands between it and `a`
        (root / f"f{i:04}").write_text("")
    _walk_while(root, SWAPPER, {"a/.env", "b/.env"})


def _walk_while(root: Path, racer: str, places: set[str], walks: int = 150) -> None:
    """``walks`` walks of ``root`` while a real process runs ``racer`` on it: each finds
    the secret in one of ``places`` or refuses (the tree kept changing), never misses it."""
    process = subprocess.Popen([sys.executable, "-c", racer, str(root)])
    missed, refused, answered = [], 0, 0
    try:
        for _ in range(walks):
            try:
                found = protect.find_hidden(root)
            except RunnerError as error:
                refused += 1
                assert "cannot tell which files" in str(error)
                continue
            answered += 1
            if not places & set(found):
                missed.append(found)
    finally:
        process.kill()
        process.wait()
    assert missed == [], f"{len(missed)} of {answered} walks missed the secret"
    assert answered + refused == walks


MOVER = """
import os, sys
os.chdir(sys.argv[1])
while True:
    os.rename("a/x/.env", "z/y/.env")
    os.rename("z/y/.env", "a/x/.env")
"""


@pytest.mark.slow  # 1.7 CPU-s
def test_a_secret_moved_between_two_deep_folders_while_walked_is_never_missed(
    tmp_path: Path,
) -> None:
    """The walk used to compare only the top folder before and after: a secret moved from
    a folder it had not reached into one it had passed was in neither listing, and the
    top folder never changed. Every folder's stamp is compared now."""
    root = tmp_path / "p"
    for folder in ("a/x", "z/y"):
        (root / folder).mkdir(parents=True)
    (root / "a" / "x" / ".env").write_text("KEY=1\n")
    for i in range(300):  # listings long enough for the move to land between them
        (root / "a" / f"f{i:03}").write_text("")
        (root / "z" / f"f{i:03}").write_text("")
    _walk_while(root, MOVER, {"a/x/.env", "z/y/.env"})
