"""A run's final state in `fleet status` is true of its branch: a run says `complete` only
once `harness/<id>` is in the project it came from. Its drive ends in one DBOS step and its
branch is pushed in the next (publish): a worker killed between the two leaves the run
`publishing`, and the worker that recovers the drive pushes the branch, then says
`complete`. The kill comes from the submitted repository's own pre-receive hook (the
remote's side of the push: the worker is inside publish, its drive step recorded)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from fleet.drive import PUBLISH_ATTEMPTS
from tests.fleet.support import Fleet, scripted_project

pytestmark = pytest.mark.slow


def _branch(source: Path, run_id: str) -> str | None:
    """``harness/<run_id>``'s commit in ``source``, None while it does not exist."""
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/harness/{run_id}"],
        cwd=source,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _kill_on_first_push(source: Path, pid: int, marker: Path) -> None:
    """The repository's pre-receive hook: the first push SIGKILLs the pushing worker and is
    refused; later pushes pass."""
    hook = source / ".git" / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\n[ -e '{marker}' ] && exit 0\ntouch '{marker}'\nkill -9 {pid}\nexit 1\n"
    )
    hook.chmod(0o755)


def test_complete_only_once_its_branch_is_pushed(pg_fleet: Fleet, tmp_path: Path) -> None:
    fleet = pg_fleet
    source = scripted_project(tmp_path / "source")
    marker = tmp_path / "killed-in-publish"
    worker = fleet.start_worker("wA", lost_after=4)
    _kill_on_first_push(source, worker.pid, marker)
    fleet.submit(source, "pub1")
    assert worker.wait(timeout=900) == -9
    assert marker.exists()  # killed by the hook: inside publish, after the drive step
    assert _branch(source, "pub1") is None
    [row] = fleet.status()
    assert row["features"] == {"passing": 2, "total": 2}, row  # the drive had ended
    assert row["state"] == "publishing", row  # not complete: no branch yet
    seen = [row["state"]]
    said = fleet.cli("cancel", "pub1").stdout  # it ended: nothing to cancel, publish goes on
    assert said.strip() == "pub1 is publishing already", said

    fleet.start_worker("wB", lost_after=4)  # a peer: wA's drive is recovered there
    end = time.monotonic() + 600
    while True:
        [row] = fleet.status()  # first the status, then the branch
        pushed = _branch(source, "pub1")
        if row["state"] == "complete":
            assert pushed is not None, ("complete before harness/pub1 was pushed", row)
            break
        assert row["state"] == "publishing", row
        seen.append(row["state"])
        assert time.monotonic() < end, ("never published", row, seen)
        time.sleep(0.2)
    assert row["branch"] == "harness/pub1", row
    assert row["worker"] is None, row
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=fleet.project_of("pub1"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert pushed == head
    log = (fleet.home / "wB.log").read_text()
    assert "took over" in log and "worker wA" in log, log


def test_a_run_whose_branch_cannot_be_pushed_is_failed(fleet: Fleet, tmp_path: Path) -> None:
    """The embedded fleet (``fleet`` of conftest); the repository refuses every push: once
    publish's attempts are spent (spaced by the worker's ``--publish-retry``) the run is
    `failed`, saying it was complete, never `complete` with no branch."""
    source = scripted_project(tmp_path / "source")
    pushes = tmp_path / "pushes"
    hook = source / ".git" / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\necho push >> '{pushes}'\necho 'refused by this repository' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    # each attempt 0.1 s after the last, doubling (2 s by default: 30 s of waits)
    fleet.start_worker("wA", options=("--publish-retry", "0.1"))
    fleet.submit(source, "refused")
    seen: set[str] = set()
    end = time.monotonic() + 600
    while True:
        [row] = fleet.status()
        seen.add(row["state"])
        if row["state"] not in ("queued", "running", "publishing"):
            break
        assert time.monotonic() < end, ("never settled", row)
        time.sleep(0.5)
    assert row["state"] == "failed", (row, seen)
    assert row["features"] == {"passing": 2, "total": 2}, row
    assert row["detail"].startswith("complete, but its branch harness/refused could not"), row
    assert "refused by this repository" in row["detail"], row
    assert _branch(source, "refused") is None
    assert "complete" not in seen, seen
    assert pushes.read_text().split() == ["push"] * PUBLISH_ATTEMPTS
