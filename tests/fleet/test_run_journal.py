"""A run's journal in a PostgreSQL fleet, seen from two machines (two state folders, no
file shared): the second derives the same key from the fleet's secret and continues the
first's journal, which verifies there; the secret and the keys are in no journal row; the
last work-tree checkpoint is read back checked against its digest."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from fleet.place import Place
from fleet.project import RunFolder
from fleet.runjournal import Checkpointer, RunCheckpoints, RunJournals, schema_of, schema_url
from harness.errors import JournalDamaged
from harness.journal import Journal
from harness.journal.keys import key_path
from harness.journal.verify import verify
from tests.fleet.support import new_database, one_commit_source
from tests.stores import raw


@pytest.fixture
def fleet_url(pg_server: Any) -> str:
    return new_database(pg_server)


def _machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> Path:
    home = tmp_path / name / "state"
    monkeypatch.setenv("HARNESS_STATE_HOME", str(home))
    return home


def test_a_journal_begun_on_one_machine_goes_on_on_another(
    fleet_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _machine(monkeypatch, tmp_path, "a")
    place = Place(fleet_url, tmp_path / "a")
    on_a = RunJournals(place).location("r-1", tmp_path / "a" / "r-1")
    with Journal.open(on_a) as journal:
        run = journal.start_run()
        session = run.session(1)
        session.step("tool", "write", {"k": 1}, lambda: {"wrote": 1})
        run_id, journal_id = run.id, str(journal.id)
    key = key_path(journal_id).read_bytes()

    home_b = _machine(monkeypatch, tmp_path, "b")  # another disk: no key file of a's
    on_b = RunJournals(Place(fleet_url, tmp_path / "b")).location("r-1", tmp_path / "b" / "r-1")
    assert on_b.url == on_a.url and on_b.project == on_a.project
    with Journal.open(on_b) as journal:
        session = journal.resume_run(run_id).session(1)
        replayed = session.step("tool", "write", {"k": 1}, lambda: {"wrote": "again"})
        assert replayed == {"wrote": 1}  # recorded on a: replayed, not run again
        session.step("tool", "next", {}, lambda: {"ok": True})
    assert key_path(journal_id).read_bytes() == key  # the same key, derived on b
    assert key_path(journal_id).is_relative_to(home_b)
    report = verify(on_b)
    assert report.ok, report.problems

    secret = raw(on_b, "SELECT value FROM public.harness_fleet_secret")[0][0]
    tables = ("meta", "runs", "sessions", "steps", "cache", "blobs")
    dumped = repr([raw(on_b, f"SELECT * FROM {t}") for t in tables])
    for hidden in (bytes(secret).hex(), key.decode().strip()):
        assert hidden not in dumped
    assert "***" in repr(on_b.keys) and bytes(secret).hex() not in repr(on_b)


def test_runs_do_not_share_a_journal_and_ids_stay_apart(fleet_url: str, tmp_path: Path) -> None:
    journals = RunJournals(Place(fleet_url, tmp_path))
    assert schema_of("Run-1") != schema_of("run_1")  # same letters, another run
    assert len(schema_of("x" * 200)) <= 63  # a PostgreSQL name
    ids = set()
    for run in ("a", "b"):
        with Journal.open(journals.location(run, tmp_path / run)) as journal:
            ids.add(journal.id)
    assert len(ids) == 2
    url = "postgresql://u:pw@h/db?options=-cstatement_timeout%3D5000&sslmode=disable"
    made = schema_url(url, "run_x")
    assert made.startswith("postgresql://u:pw@h/db?") and "sslmode=disable" in made
    assert "statement_timeout" in made and "search_path%3Drun_x" in made


def test_the_last_checkpoint_is_read_back_checked(fleet_url: str, tmp_path: Path) -> None:
    journals = RunJournals(Place(fleet_url, tmp_path))
    where = journals.location("r", tmp_path / "r")
    assert journals.latest(where) is None
    with Journal.open(where):
        pass  # the journal's tables (its blob store) exist once a worker opened it
    journals.checkpoint(where, b"first", "a" * 40)
    digest = journals.checkpoint(where, b"second", "b" * 40)
    assert journals.latest(where) == b"second"
    raw(where, "UPDATE blobs SET data = ? WHERE digest = ?", (b"forged", digest))
    with pytest.raises(JournalDamaged, match="does not match its digest"):
        journals.latest(where)


def test_a_drive_on_the_tree_its_machine_left_stores_no_checkpoint(
    fleet_url: str, tmp_path: Path
) -> None:
    """A run handed over and driven again on the machine that checkpointed it last: the
    next drive's first checkpoint finds the tree as that checkpoint left it, and it still
    the run's latest: nothing is packed nor stored (before: every drive stored the tree at
    its first step, ~55 ms of a worker taking runs over). A tree changed since, or a
    checkpoint stored since by another machine, is stored."""

    source, base = one_commit_source(tmp_path)
    journals = RunJournals(Place(fleet_url, tmp_path))
    where = journals.location("again", tmp_path / "unused")
    with Journal.open(where):
        pass
    folder = RunFolder(tmp_path / "a", "again")
    folder.ensure(str(source), "again", base, RunCheckpoints(journals, where))

    def drive() -> tuple[Any, ...]:  # a drive's first checkpoint; the run's latest after
        Checkpointer(journals, where, folder.project, base, folder.mark)()
        return raw(where, "SELECT blob, at FROM harness_checkpoint")[0]

    (folder.project / "a.txt").write_text("edit\n")
    first = drive()
    assert drive() == first  # the same tree, the same latest: not stored again
    (folder.project / "a.txt").write_text("edit 2\n")
    second = drive()
    assert second[1] > first[1] and second[0] != first[0]
    journals.checkpoint(where, b"taken elsewhere", "c" * 40)
    third = drive()
    assert third[0] == second[0] and third[1] > second[1]  # stored again: the latest is ours
    assert folder.marked() == third[0] == journals.latest_digest(where)


def test_a_checkpoint_reads_the_tree_with_one_git_status(
    fleet_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint of a changed tree packs what the status that saw the change named
    (its paths, HEAD's commit): one ``git status`` reads the tree (before, ``rev-parse``,
    ``diff`` and ``ls-files`` followed it: ~40 checks and ~6 checkpoints a run of one
    feature), and the archive restores the edit and the new file on another machine."""

    source, base = one_commit_source(tmp_path)
    journals = RunJournals(Place(fleet_url, tmp_path))
    where = journals.location("once", tmp_path / "unused")
    with Journal.open(where):
        pass
    saved = RunCheckpoints(journals, where)
    folder = RunFolder(tmp_path / "a", "once")
    folder.ensure(str(source), "once", base, saved)
    (folder.project / "a.txt").write_text("edit\n")
    (folder.project / "new.txt").write_text("new\n")
    ran: list[list[str]] = []
    real = subprocess.run

    def counted(argv: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(argv, list) and str(argv[0]).endswith("git"):
            ran.append([str(a) for a in argv])
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)
    Checkpointer(journals, where, folder.project, base, folder.mark)()
    monkeypatch.undo()
    # the clone's config check and its sweep aside: what reads the tree for the checkpoint
    reads = [argv for argv in ran if {"config", "--porcelain=v1"}.isdisjoint(argv)]
    assert len(reads) == 1 and "--porcelain=v2" in reads[0], reads
    other = RunFolder(tmp_path / "b", "once")
    assert "restored" in str(other.ensure(str(source), "once", base, saved))
    assert (other.project / "a.txt").read_text() == "edit\n"
    assert (other.project / "new.txt").read_text() == "new\n"


def test_a_machine_given_a_run_back_drops_its_stale_copy(fleet_url: str, tmp_path: Path) -> None:
    """Machine a drove the run, was declared lost (its disk kept), b went on and was lost in
    turn: a gets the run back and must go on from b's last checkpoint, not its own copy."""

    source, base = one_commit_source(tmp_path)
    journals = RunJournals(Place(fleet_url, tmp_path))
    where = journals.location("back", tmp_path / "unused")
    with Journal.open(where):
        pass
    saved = RunCheckpoints(journals, where)

    def drive_on(folder: RunFolder, text: str) -> str | None:
        said = folder.ensure(str(source), "back", base, saved)
        (folder.project / "a.txt").write_text(text)
        Checkpointer(journals, where, folder.project, base, folder.mark)()
        return said

    on_a = RunFolder(tmp_path / "a", "back")
    on_b = RunFolder(tmp_path / "b", "back")
    assert "cloned at its base" in str(drive_on(on_a, "a's edit\n"))
    assert "restored" in str(drive_on(on_b, "b's edit, after a's\n"))
    assert on_b.project.joinpath("a.txt").read_text() == "b's edit, after a's\n"
    said = on_a.ensure(str(source), "back", base, saved)
    assert said is not None and "older copy was dropped" in said
    assert on_a.project.joinpath("a.txt").read_text() == "b's edit, after a's\n"
    assert on_a.ensure(str(source), "back", base, saved) is None  # its own now: kept
