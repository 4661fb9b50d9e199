"""A kill between a temp file of the journal (a blob, a key, a new SQLite journal, the close
stamp) and its rename leaves no file for good: the temp file bears harness's mark and its
writer's pid (harness.leftovers), and the next write there removes it once that writer is
gone; a live writer's, and any other file, stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.journal import Journal
from harness.journal.blobs import BlobStore
from harness.journal.keys import create_key, key_path

REPO = Path(__file__).resolve().parents[3]
KILLED = """
import os, signal, sys
from pathlib import Path
from harness.journal import Journal
from harness.journal.blobs import BlobStore
from harness.journal.keys import create_key
where = Path(sys.argv[2])
kill = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
if sys.argv[1] == "journal":
    os.link = kill  # a new journal is linked into place
    Journal.open(where)
elif sys.argv[1] == "stamp":
    journal = Journal.open(where)
    os.replace = kill  # the close stamp is renamed into place
    journal.close()
os.replace = kill  # killed before the rename
if sys.argv[1] == "blob":
    BlobStore(where).put(b"x" * 20000)
elif sys.argv[1] == "key":
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


def test_a_killed_journal_creation_and_close_leave_nothing_for_good(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    _killed_writer("journal", state)
    left = _temps(state)
    assert len(left) == 1 and left[0].startswith(".journal.db.harness-"), left
    assert not (state / "journal.db").exists()
    with Journal.open(state) as journal:  # made afresh, the leftover removed
        journal.start_run()
    assert _temps(state) == []
    _killed_writer("stamp", state)
    left = _temps(state)
    assert len(left) == 1 and left[0].startswith(".journal.checked.harness-"), left
    with Journal.open(state) as journal:
        assert len(journal.runs()) == 1
    assert _temps(state) == [] and (state / "journal.checked").exists()
