"""Storage faults on real file systems, through the real CLI (issue 15).

A tmpfs of a few MB stands in for a disk: filled by the agent's own command mid-run, and
remounted read-only between runs. The run names the fault ("no space left on", "is
read-only"), stops resumable (exit 4, outcome `waiting`) and never calls the healthy
journal damaged; once the disk is back, `harness run` finishes the job. A journal with
4 KiB of garbage in a page stops the run before anything is written.
These tests mount file systems: they need root and mount permission, and skip (saying
so) where either is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.journal.faults import probe
from tests.session.support import (
    call,
    feature_list,
    good_turns,
    harness_run,
    init,
    make_project,
    turn,
)

FILL = "test -e filled || { touch filled; dd if=/dev/zero of=big bs=64k 2>/dev/null; true; }"


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted at tmp_path/disk."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = _mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk))
    if done.returncode != 0:
        pytest.skip(f"mount is not allowed here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def passing(root: Path) -> list[str]:
    return [f["id"] for f in feature_list(root)["features"] if f["passes"]]


def report(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_a_disk_filled_mid_run_is_named_and_the_run_resumes(
    small_disk: Path, tmp_path: Path
) -> None:
    turns = [turn(call("run", command=FILL)), *good_turns(1)]
    root = make_project(small_disk / "p", count=1, sessions={1: turns})
    init(root)
    out = tmp_path / "report.json"
    full = harness_run(root, "run", "--report", str(out))
    assert full.returncode == 4, full.stderr
    assert report(out)["outcome"] == "waiting"
    assert "no space left on" in str(report(out)["detail"])
    assert "damaged" not in full.stderr + full.stdout
    checked = harness_run(root, "journal", "verify")
    assert "DAMAGED" not in checked.stdout and "move it aside" not in checked.stdout

    (root / "big").unlink()  # space is freed
    resumed = harness_run(root, "run", "--report", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert report(out)["outcome"] == "complete" and passing(root) == ["F001"]
    assert harness_run(root, "journal", "verify").returncode == 0
    assert harness_run(root, "validate").returncode == 0


def test_a_read_only_project_is_named_and_the_run_resumes(small_disk: Path, tmp_path: Path) -> None:
    root = make_project(small_disk / "p", count=2, toml="[budgets]\nrun_sessions = 1\n")
    init(root)
    assert harness_run(root, "run").returncode == 3  # F001 passes, the session budget ends
    assert _mount("-o", "remount,ro", str(small_disk)).returncode == 0
    out = tmp_path / "report.json"
    stopped = harness_run(root, "run", "--report", str(out))
    assert stopped.returncode == 4, stopped.stderr
    assert report(out)["outcome"] == "waiting" and "is read-only" in str(report(out)["detail"])
    assert "damaged" not in stopped.stderr.lower()
    checked = harness_run(root, "journal", "verify")
    assert checked.returncode in (0, 4), checked.stdout
    assert "read-only" in checked.stdout and "DAMAGED" not in checked.stdout

    assert _mount("-o", "remount,rw", str(small_disk)).returncode == 0
    (root / "harness.toml").write_text(
        (root / "harness.toml").read_text().replace("run_sessions = 1", "run_sessions = 3")
    )
    assert harness_run(root, "run").returncode == 0
    assert passing(root) == ["F001", "F002"]


def test_garbage_in_a_journal_page_stops_the_run_before_it_writes(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=2, toml="[budgets]\nrun_sessions = 1\n")
    init(root)
    assert harness_run(root, "run").returncode == 3
    db = root / ".harness" / "journal.db"
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    data = bytearray(db.read_bytes())
    middle = (len(data) // 2) // 4096 * 4096
    data[middle : middle + 4096] = os.urandom(4096)
    db.write_bytes(bytes(data))
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True)

    stopped = harness_run(root, "run")
    assert stopped.returncode == 2, stopped.stderr
    assert "is damaged" in stopped.stderr and "quick_check" in stopped.stderr
    assert stopped.stderr.index("Restore it") < stopped.stderr.index("move it aside")
    assert db.read_bytes() == bytes(data)  # nothing written into the malformed file
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == before
    again = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True)
    assert again.stdout == head.stdout
    verified = harness_run(root, "journal", "verify")
    assert verified.returncode == 2 and "DAMAGED" in verified.stdout


@pytest.mark.parametrize("unnamed", [True, False])
def test_the_storage_probe_leaves_no_file_behind(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    """The probe a failed run makes in the project root (is the disk full? read-only?)
    leaves nothing there: a failed run left `probe.tmp` in the user's project."""

    if not unnamed:  # a file system without O_TMPFILE: a named file, removed again
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    assert probe(small_disk) is None
    assert os.listdir(small_disk) == []
    subprocess.run(["dd", "if=/dev/zero", f"of={small_disk}/big", "bs=64k"], capture_output=True)
    full = probe(small_disk)
    assert full is not None and full.reason == "full"
    assert os.listdir(small_disk) == ["big"]
    (small_disk / "big").unlink()
    assert _mount("-o", "remount,ro", str(small_disk)).returncode == 0
    readonly = probe(small_disk)
    assert readonly is not None and readonly.reason == "read-only"
    assert os.listdir(small_disk) == []
