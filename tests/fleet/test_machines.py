"""Runs that survive losing a machine: two workers on a real PostgreSQL, each with its own
state folder (journal keys) and work folder (clones), nothing shared but the database.
The first is killed (-9) while its runs wait on a model answer with edits not committed;
the second takes them over, restores each work tree from the run's journal, replays the
journal and finishes: every answered model call paid once, the lost machine's edits
present, commits and evidence as an uninterrupted run's, `journal verify` ok there. The
fleet's secret is in no log, status line or journal row."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.checkpoint import restore
from fleet.place import Place
from fleet.runjournal import RunJournals
from tests.fleet.support import (
    Fleet,
    all_in,
    branch_history,
    llm_attempts,
    new_database,
    scripted_project,
)
from tests.stores import raw

pytestmark = pytest.mark.slow

DONE = ("complete", "failed", "budget")
LOST_AFTER_S = 4  # wB's: its only peer, wA, is dead before it starts (none to misjudge)


@pytest.fixture
def machines(pg_server: Any, tmp_path: Path) -> Iterator[tuple[Fleet, Fleet]]:
    url = new_database(pg_server)
    made = []
    for name in ("a", "b"):
        state = tmp_path / f"machine-{name}" / "state"
        state.mkdir(parents=True)
        fleet = Fleet(
            url, tmp_path / f"machine-{name}" / "fleet", {"HARNESS_STATE_HOME": str(state)}
        )
        fleet.home.mkdir()
        made.append(fleet)
    yield made[0], made[1]
    for fleet in made:
        fleet.stop_all()


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def _dirty(project: Path) -> dict[str, bytes]:
    """The files of the clone not committed (changed or new), with their bytes."""
    names = _git(project, "ls-files", "-z", "--modified", "--others", "--exclude-standard")
    return {
        name: (project / name).read_bytes()
        for name in sorted(set(names.split("\0")))
        if name and not name.startswith(".harness/") and (project / name).is_file()
    }


def _waiting_on_model(fleet: Fleet, run_id: str) -> int | None:
    """The id of the run's last step if it is a model call in flight, with edits not
    committed in the clone, checkpointed since the call began (a moment a lost machine
    would lose them); else None."""
    project = fleet.project_of(run_id)
    if not (project / ".git").exists() or not _dirty(project):
        return None
    try:
        rows = raw(
            fleet.journal_of(run_id),
            "SELECT s.id, s.kind, s.status, s.started_at < (SELECT at FROM harness_checkpoint) "
            "FROM steps s ORDER BY s.id DESC LIMIT 1",
        )
    except Exception:  # the journal's tables or the checkpoint's are not made yet
        return None
    if rows and rows[0][1:] == ("llm", "started", True):
        return int(rows[0][0])
    return None


def test_a_lost_machine_s_runs_finish_on_another_losing_nothing(
    machines: tuple[Fleet, Fleet], tmp_path: Path
) -> None:
    a, b = machines
    source = scripted_project(tmp_path / "source", latency_s=1.5)
    lost = ["m0", "m1"]
    a.submit(source, *lost)
    a.start_worker("wA", runs=4)
    end = time.monotonic() + 600
    while True:  # both runs waiting on a model answer, with edits on a's disk only
        inflight = {r: _waiting_on_model(a, r) for r in lost}
        if all(inflight.values()):
            break
        assert time.monotonic() < end, (a.status(), (a.home / "wA.log").read_text()[-3000:])
        time.sleep(0.05)
    a.kill("wA")
    for run_id in lost:  # the kill came while that model call was still in flight
        last = raw(a.journal_of(run_id), "SELECT max(id) FROM steps")[0][0]
        assert last == inflight[run_id], (run_id, last, inflight)
    on_a = {run_id: _dirty(a.project_of(run_id)) for run_id in lost}
    journals = RunJournals(Place(a.url, tmp_path / "reader"))
    for run_id, files in on_a.items():  # another clone, from the journal alone, has them
        clone = tmp_path / f"restored-{run_id}"
        subprocess.run(["git", "clone", "-q", str(source), str(clone)], check=True)
        saved = journals.latest(a.journal_of(run_id))
        assert saved is not None
        restore(clone, saved, f"harness/{run_id}")
        assert _dirty(clone) == files and files, run_id

    b.submit(source, "ref")  # the uninterrupted reference, on b only
    b.start_worker("wB", runs=4, lost_after=LOST_AFTER_S)
    rows = b.wait(all_in(DONE))
    assert sorted(r["id"] for r in rows) == ["m0", "m1", "ref"]
    log = (b.home / "wB.log").read_text()
    assert "took over" in log and "worker wA" in log, log
    for run_id in lost:
        assert f"run {run_id}: work tree restored from its last checkpoint" in log, log
    reference = branch_history(source, "ref")
    assert [s for s, _ in reference][-2:] == ["session 1: F001 passing", "session 2: F002 passing"]
    counts = set()
    for row in rows:
        assert row["state"] == "complete" and row["worker"] is None, row
        assert row["features"] == {"passing": 2, "total": 2}, row
        assert branch_history(source, row["id"]) == reference, row["id"]
        attempts = llm_attempts(b.journal_of(row["id"]))
        counts.add(len(attempts))
        # The call in flight at the kill is sent again (never answered); every answered one
        # replays from the shared journal.
        assert sum(n > 1 for n in attempts) <= (1 if row["id"] in lost else 0), attempts
        b.verify(row["id"])  # on b: its key derived from the fleet's secret
    assert len(counts) == 1, counts
    assert not any((b.project_of(r) / ".harness" / "journal.db").exists() for r in lost)

    secret = bytes(raw(b.journal_of("ref"), "SELECT value FROM public.harness_fleet_secret")[0][0])
    said = [
        (a.home / "wA.log").read_text(),
        log,
        b.cli("status").stdout,
        b.cli("status", "--json").stdout,
    ]
    for run_id in ("m0", "ref"):
        said.append(repr(raw(b.journal_of(run_id), "SELECT * FROM steps")))
    assert not any(secret.hex() in text or secret.hex().upper() in text for text in said)


def test_a_machine_lost_mid_commit_its_runs_finish_on_another(
    machines: tuple[Fleet, Fleet], tmp_path: Path
) -> None:
    """Machine a's worker kills itself (-9) inside its second live git commit: the runs
    whose commit was in flight, and any other, finish on machine b with the commits of an
    uninterrupted run (none lost, none made twice) and journals that verify there."""
    a, b = machines
    source = scripted_project(tmp_path / "source")
    lost = ["c0", "c1"]
    a.submit(source, *lost)
    crashing = a.start_worker("wA", runs=4, crash_in="git:commit#2")
    try:  # an outcome, not a speed: the worker's own SIGKILL inside that commit
        code = crashing.wait(timeout=1200)
    except subprocess.TimeoutExpired:
        pytest.fail(f"wA did not die in its 2nd commit: {(a.home / 'wA.log').read_text()[-3000:]}")
    assert code == -9, (a.home / "wA.log").read_text()[-3000:]
    rows = a.status()
    assert any(r["state"] == "running" and r["worker"] == "wA" for r in rows), rows
    in_commit = [
        r
        for r in lost
        if raw(a.journal_of(r), "SELECT kind, name, status FROM steps ORDER BY id DESC LIMIT 1")
        == [("git", "commit", "started")]
    ]
    # the commit that killed it, and any other run's commit running at that moment
    assert in_commit, [raw(a.journal_of(r), "SELECT kind, name, status FROM steps") for r in lost]

    b.submit(source, "ref")  # the uninterrupted reference, on b only
    b.start_worker("wB", runs=4, lost_after=LOST_AFTER_S)
    rows = b.wait(all_in(DONE), deadline_s=1500)
    assert sorted(r["id"] for r in rows) == ["c0", "c1", "ref"]
    log = (b.home / "wB.log").read_text()
    assert "took over" in log and "worker wA" in log, log
    reference = branch_history(source, "ref")
    assert [s for s, _ in reference][-2:] == ["session 1: F001 passing", "session 2: F002 passing"]
    for row in rows:
        assert row["state"] == "complete", (row["id"], row["state"], row["detail"])
        assert row["features"] == {"passing": 2, "total": 2}, row
        assert branch_history(source, row["id"]) == reference, row["id"]
        attempts = llm_attempts(b.journal_of(row["id"]))
        # No model call was in flight in a run whose commit was: its answers replay; the
        # other run's call in flight (if any) is sent again.
        allowed = 0 if row["id"] in in_commit or row["id"] == "ref" else 1
        assert sum(n > 1 for n in attempts) <= allowed, (row["id"], attempts)
        b.verify(row["id"])
