"""A kill between a blob's or a key's temp file and its rename leaves no file for good: the
temp file bears harness's mark and its writer's pid (harness.leftovers), and the next write
there removes it once that writer is gone; a live writer's, and any other file, stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.journal.blobs import BlobStore
from harness.journal.keys import create_key, key_path

REPO = Path(__file__).resolve().parents[3]
KILLED = """
import os, signal, sys
from pathlib import Path
from harness.journal.blobs import BlobStore
from harness.journal.keys import create_key
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # killed before the rename
where = Path(sys.argv[2])
if sys.argv[1] == "blob":
    BlobStore(where).put(b"x" * 20000)
else:
    create_key("00000000000000aa", where)
"""


def _killed_writer(kind: str, where: Path) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED, kind, str(where)], cwd=REPO)
    assert done.returncode == -9


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_blob_temp_file_a_killed_writer_left_is_removed_by_the_next_write(
    tmp_path: Path,
) -> None:
    root = tmp_path / "blobs"
    _killed_writer("blob", root)
    left = _temps(root)
    assert len(left) == 1 and ".harness-" in left[0], left
    live = root / f".{'c' * 64}.harness-{os.getpid()}-livewrit.tmp"
    live.write_bytes(b"being written")
    store = BlobStore(root)
    digest = store.put(b"y" * 20000)
    assert store.get(digest) == b"y" * 20000
    assert _temps(root) == [live.name]
    assert [p.name for p in store.path(digest).parent.iterdir()] == [digest[2:]]


def test_a_key_temp_file_a_killed_writer_left_is_removed_by_the_next_write(
    tmp_path: Path,
) -> None:
    _killed_writer("key", tmp_path)
    keys = key_path("00000000000000aa", tmp_path).parent
    left = _temps(keys)
    assert len(left) == 1 and left[0].startswith(".00000000000000aa.key.harness-"), left
    assert not key_path("00000000000000aa", tmp_path).exists()
    other = keys / ".00000000000000aa.key.original.tmp"  # not ours: never touched
    other.write_text("the user's")
    key = create_key("00000000000000bb", tmp_path)
    assert key_path("00000000000000bb", tmp_path).read_text() == key.hex() + "\n"
    assert _temps(keys) == [other.name]
