"""The work-tree checkpoint on real git: what a lost machine's clone held (commits since
the run's base, changed, new, deleted, executable, binary files and links) is what a
fresh clone on another machine holds after `restore`; harness state and ignored files are
not carried; an archive naming a path outside the tree is refused before anything is
written."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from artifacts.git_safety import GitConfigRefused
from fleet.checkpoint import FILE_LIMIT, CheckpointError, fingerprint, pack, restore


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Ada Lovelace")
    _git(root, "config", "user.email", "ada@example.org")
    (root / ".gitignore").write_text("build/\n.harness/\n")
    (root / "kept.txt").write_text("kept\n")
    (root / "gone.txt").write_text("to delete\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('v1')\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    return root


def _clone(source: Path, at: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(source), str(at)], check=True)
    for key in ("user.name", "user.email"):
        _git(at, "config", key, _git(source, "config", key))
    return at


def _files(root: Path) -> dict[str, tuple[bytes | str, int]]:
    found: dict[str, tuple[bytes | str, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in (".git", ".harness", "build"):
            continue
        if path.is_symlink():
            found[rel] = (os.readlink(path), 0)
        elif path.is_file():
            found[rel] = (path.read_bytes(), path.stat().st_mode & 0o111)
    return found


def test_another_clone_restored_holds_every_edit(source: Path, tmp_path: Path) -> None:
    lost = _clone(source, tmp_path / "lost")
    base = _git(lost, "rev-parse", "HEAD")
    (lost / "src" / "app.py").write_text("print('v2')\n")
    _git(lost, "commit", "-qam", "session 1")  # a session commit never published
    (lost / "src" / "app.py").write_text("print('v3, not committed')\n")
    (lost / "gone.txt").unlink()
    (lost / "new dir").mkdir()
    (lost / "new dir" / "notes é.md").write_text("untracked, named in UTF-8\n")
    (lost / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (lost / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (lost / "run.sh").chmod(0o755)
    (lost / "link").symlink_to("kept.txt")
    (lost / "build").mkdir()
    (lost / "build" / "out.o").write_text("ignored: remade, not carried\n")
    (lost / ".harness").mkdir()
    (lost / ".harness" / "state").write_text("the harness's own, never carried\n")

    packed = pack(lost, base)
    data, head = packed.data, packed.head
    assert head == _git(lost, "rev-parse", "HEAD") != base
    assert packed.left_out == []

    other = _clone(source, tmp_path / "other")  # another machine: the base only
    assert restore(other, data, "harness/r1") == head
    assert _git(other, "rev-parse", "HEAD") == head
    assert _git(other, "rev-parse", "--abbrev-ref", "HEAD") == "harness/r1"
    assert _files(other) == _files(lost)
    assert not (other / "build").exists()
    assert not (other / ".harness").exists()
    assert _git(other, "log", "-1", "--format=%an <%ae>") == "Ada Lovelace <ada@example.org>"


def test_the_same_tree_packs_to_the_same_bytes_at_any_time(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint's bytes follow the tree, not the clock: before, gzip's header held
    the second it was packed, so the same tree packed a second later was another blob
    (stored again; the fleet's CI saw the test of a drive's checkpoint fail on it)."""
    root = _clone(source, tmp_path / "c")
    base = _git(root, "rev-parse", "HEAD")
    (root / "kept.txt").write_text("edited\n")
    packs = []
    for now in (1_800_000_000.0, 1_800_000_007.0):
        monkeypatch.setattr(time, "time", lambda now=now: now)
        packs.append(pack(root, base).data)
    assert packs[0] == packs[1]


def test_fingerprint_follows_the_tree_and_head(source: Path, tmp_path: Path) -> None:
    root = _clone(source, tmp_path / "c")
    clean = fingerprint(root)
    assert fingerprint(root) == clean
    (root / "kept.txt").write_text("edited\n")
    edited = fingerprint(root)
    assert edited != clean
    (root / "kept.txt").write_text("edited again, same status\n")
    assert fingerprint(root) != edited  # the file changed again: a new checkpoint
    (root / ".harness").mkdir()
    (root / ".harness" / "x").write_text("state\n")
    again = fingerprint(root)
    (root / ".harness" / "x").write_text("more state\n")
    assert fingerprint(root) == again  # harness state is not the work tree
    _git(root, "commit", "-qam", "c")
    assert fingerprint(root) not in (again, clean)


def _archive(members: dict[str, bytes], head: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        meta = json.dumps({"format": 1, "head": head, "deleted": []}).encode()
        for name, data in {"checkpoint.json": meta, **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["tree/../escaped.txt", "tree/.git/hooks/post-checkout"])
def test_a_path_outside_the_tree_is_refused(source: Path, tmp_path: Path, name: str) -> None:
    root = _clone(source, tmp_path / "c")
    head = _git(root, "rev-parse", "HEAD")
    with pytest.raises(CheckpointError, match="outside the work tree"):
        restore(root, _archive({name: b"#!/bin/sh\necho pwned\n"}, head), "harness/r")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (root / ".git" / "hooks" / "post-checkout").exists()


def test_not_a_checkpoint_is_said(source: Path, tmp_path: Path) -> None:
    root = _clone(source, tmp_path / "c")
    with pytest.raises(CheckpointError, match="not a work-tree checkpoint"):
        restore(root, b"plain bytes", "harness/r")


def test_a_file_too_large_is_left_out_and_said(source: Path, tmp_path: Path) -> None:
    """An agent that writes a huge file cannot make the worker hold it: not carried, named."""

    lost = _clone(source, tmp_path / "lost")
    base = _git(lost, "rev-parse", "HEAD")
    with open(lost / "huge.bin", "wb") as handle:
        handle.truncate(FILE_LIMIT + 1)  # sparse: costs no disk
    (lost / "small.txt").write_text("carried\n")
    packed = pack(lost, base)
    assert packed.left_out == [("huge.bin", FILE_LIMIT + 1)]
    assert len(packed.data) < 2**20
    other = _clone(source, tmp_path / "other")
    restore(other, packed.data, "harness/r")
    assert (other / "small.txt").read_text() == "carried\n"
    assert not (other / "huge.bin").exists()


@pytest.mark.parametrize("read", ["fingerprint", "pack"])
def test_a_clone_whose_config_names_a_filter_is_refused(
    source: Path, tmp_path: Path, read: str
) -> None:
    """The agent writes the clone's config (the local runner does not stop it): a clean
    filter there would run on the host in the checkpoint's `git status` or `git diff`.
    Refused as harness's own git refuses it, and never run."""
    clone = _clone(source, tmp_path / "clone")
    ran = tmp_path / "ran"
    (clone / ".gitattributes").write_text("*.py filter=x\n")
    _git(clone, "config", "filter.x.clean", f"touch {ran}; cat")
    app = clone / "src" / "app.py"
    app.write_text("print('v2')\n")  # the same size: git reads it through the filter
    os.utime(app, ns=(app.stat().st_mtime_ns + 5 * 10**9,) * 2)
    with pytest.raises(GitConfigRefused, match=r"filter\.x"):
        if read == "fingerprint":
            fingerprint(clone)
        else:
            pack(clone, "HEAD")
    assert not ran.exists(), "the clone's filter ran on the host"
