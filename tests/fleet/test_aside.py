"""The fleet's own git (a run's clone, its work-tree checkpoint around each step, the push
of its branch) holds no drive thread while its processes run: the drive is parked and the
git runs on the worker's git pool (``fleet.drives.Drives.aside``), so the other runs of
that thread go on meanwhile. Before, a start held its drive thread ~0.3 s on a loaded
machine for ~19 ms of its own CPU, the rest waiting on git processes, while the runs taken
over from a lost worker waited for a free thread.

Real git (held at one subcommand by a wrapper on ``PATH`` that waits while a file exists,
then runs the real one), a real PostgreSQL fleet (the runs' journals and checkpoints)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fleet.db import FleetDb, RunRow
from fleet.drive import WorkerState, drive, prepare, publish
from fleet.drives import STARTING, Drives
from fleet.place import Place
from fleet.project import RunFolder, branch_of, head_of
from fleet.runjournal import RunJournals
from tests.fleet.support import new_database, one_commit_source, scripted_project

T = TypeVar("T")

WRAPPER = """#!/bin/sh
# the real git, held at its `{sub}` while {hold} exists
for arg in "$@"; do
  if [ "$arg" = "{sub}" ]; then
    if [ -e "{hold}" ]; then
      : > "{entered}"
      while [ -e "{hold}" ]; do sleep 0.05; done
    fi
    break
  fi
done
exec {git} "$@"
"""


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def worker(pg_server: Any, tmp_path: Path) -> Iterator[WorkerState]:
    """A worker's state on a fresh PostgreSQL fleet, its drives on ONE drive thread."""
    place = Place(new_database(pg_server), tmp_path / "fleet")
    db = FleetDb(place)
    state = WorkerState("w", place, db, {}, drives=Drives(hosts=1))
    state.journals = RunJournals(place)
    try:
        yield state
    finally:
        assert state.drives is not None
        state.drives.close()
        db.close()


def _hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sub: str) -> tuple[Path, Path]:
    """git on this process's PATH held at its argument ``sub`` while the first returned
    file exists (the second is made when a git call is held)."""
    hold, entered, bin_dir = tmp_path / "hold", tmp_path / "entered", tmp_path / "bin"
    bin_dir.mkdir()
    real = shutil.which("git")
    assert real is not None
    wrapper = bin_dir / "git"
    wrapper.write_text(WRAPPER.format(sub=sub, hold=hold, entered=entered, git=real))
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    hold.touch()
    return hold, entered


def _meanwhile(drives: Drives, first: Future[T], hold: Path, entered: Path) -> T:
    """Once ``first``'s git is held: a drive started then runs to its end on the drive
    thread while that git is still held; then the git is let go; ``first``'s value."""
    try:
        end = time.monotonic() + 60
        while not entered.exists():
            assert time.monotonic() < end, "the git was never held"
            if first.done():
                raise AssertionError(f"ended before its git was held: {first.result()!r}")
            time.sleep(0.05)
        started = drives.start(lambda: "started", STARTING)
        assert started.result(timeout=20) == "started"  # while the git is still held
        assert hold.exists() and not first.done()
    finally:
        hold.unlink(missing_ok=True)
    return first.result(timeout=120)


@pytest.mark.parametrize("held", ["clone", "push"])
def test_a_clone_or_a_push_holds_no_drive_thread(
    held: str, worker: WorkerState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One drive thread; a drive whose git is held (its clone at prepare, its branch's
    push at publish). A drive started then runs to its end on that thread while the git
    is still held (before: it waited for the git, ``TimeoutError``); once released, the
    held work ends as it would have."""

    source, base = one_commit_source(tmp_path)
    worker.db.add_run(RunRow("r1", str(source), base=base, state="running"))
    folder = RunFolder(worker.place.work_root(), "r1")
    if held == "push":
        prepare(worker, "r1")  # cloned here, unheld
    hold, entered = _hold(tmp_path, monkeypatch, held)
    work = {"clone": lambda: prepare(worker, "r1").id, "push": lambda: publish(worker, "r1")}
    assert worker.drives is not None
    _meanwhile(worker.drives, worker.drives.start(work[held]), hold, entered)
    if held == "clone":
        assert _git(folder.project, "rev-parse", "HEAD") == base
        assert _git(folder.project, "branch", "--show-current") == branch_of("r1")
    else:
        assert _git(source, "rev-parse", branch_of("r1")) == base


@pytest.mark.slow  # 1.05 CPU-s (bench/suite_census.py)
def test_a_step_s_checkpoint_holds_no_drive_thread(
    worker: WorkerState, tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run driven on the one drive thread; the ``git status`` of its work-tree checkpoint
    around its first live step is held. A drive started then runs to its end while it is
    held (before: ``TimeoutError``); released, the run goes on to complete, its tree
    checkpointed."""

    source = scripted_project(tmp_path / "source", count=1, latency_s=0.0)
    worker.environ = dict(os.environ)
    worker.db.add_run(RunRow("r1", str(source), base=head_of(str(source)), version="x"))
    prepare(worker, "r1")
    hold, entered = _hold(tmp_path, monkeypatch, "--porcelain=v2")  # the fingerprint's only
    assert worker.drives is not None
    result = _meanwhile(
        worker.drives, worker.drives.start(lambda: drive(worker, "r1", 1)), hold, entered
    )
    assert result.outcome == "complete", result
    folder = RunFolder(worker.place.work_root(), "r1")
    assert worker.journals is not None
    where = worker.journals.location("r1", folder.project)
    assert worker.journals.latest_digest(where) == folder.marked() is not None
