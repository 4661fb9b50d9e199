"""The HMAC chain on every store: a row edited, moved or removed outside harness (by
anyone with the database's password but not the key) is refused, by name, and
`harness journal verify` says so."""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import JournalForged, JournalKeyMissing
from harness.journal import Journal, Location
from harness.journal.chain import Chain
from harness.journal.keys import key_path
from harness.journal.verify import verify
from tests.stores import raw


def record(where: Location, outputs: list[dict[str, int]]) -> tuple[str, str]:
    """A run whose session 1 recorded one tool step per output; (run id, journal id)."""
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        for i, out in enumerate(outputs):
            s.step("tool", f"t{i}", {"i": i}, lambda out=out: out)
        return run.id, str(journal.id)


def edit(where: Location, sql: str) -> None:
    """Statements run behind the journal's back (a database administrator's edit)."""
    if where.backend == "memory":
        pytest.skip("nobody edits a process's memory behind its back")
    for statement in sql.split(";"):
        if statement.strip():
            raw(where, statement)


def steps(where: Location) -> list[tuple[object, ...]]:
    return raw(where, "SELECT * FROM steps ORDER BY id")


def replay(where: Location, run_id: str) -> None:
    with Journal.open(where) as journal:
        journal.resume_run(run_id).session(1)


def cli(where: Location, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project root whose `harness` commands read this journal."""
    if where.backend == "memory":
        pytest.skip("the CLI reads a journal of another process: not an in-memory one")
    if where.url:
        monkeypatch.setenv("HARNESS_JOURNAL_URL", where.url)
    return where.state_dir.parent


def test_key_lives_outside_the_store_with_mode_0600(where: Location, state_home: Path) -> None:
    _, journal_id = record(where, [{"exit_code": 1}])
    path = key_path(journal_id)
    assert path.parent == state_home / "keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = path.read_bytes().strip().decode()
    if where.state_dir.exists():
        assert not any(p.name.endswith(".key") for p in where.state_dir.rglob("*"))
    if where.backend != "memory":  # no table holds the key
        tables = ("meta", "runs", "sessions", "steps", "cache", "blobs")
        dumped = repr([raw(where, f"SELECT * FROM {table}") for table in tables])
        assert key not in dumped and bytes.fromhex(key).hex() not in dumped


def test_an_edited_result_is_refused_naming_the_step(where: Location) -> None:
    run_id, _ = record(where, [{"exit_code": 0}, {"exit_code": 1}, {"exit_code": 0}])
    edit(where, "UPDATE steps SET output = '{\"exit_code\":0}' WHERE seq = 2")
    before = steps(where)
    with pytest.raises(JournalForged) as err:
        replay(where, run_id)
    assert err.value.step == f"{run_id}/1/2" and err.value.exit_code == 2
    assert f"step {run_id}/1/2" in str(err.value) and "seq 2" in str(err.value)
    assert steps(where) == before  # nothing overwritten
    report = verify(where)
    assert report.verdict == "forged"
    assert any(f"{run_id}/1/2" in p for p in report.problems)


def test_a_failure_turned_into_success_is_refused(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)

        def fail() -> None:
            raise RuntimeError("exit 1")

        with pytest.raises(RuntimeError):
            s.step("tool", "verify_feature", {}, fail)
        run_id = run.id
    edit(where, "UPDATE steps SET status = 'ended', error = NULL, output = '{\"exit_code\":0}'")
    with pytest.raises(JournalForged, match="ended result its MAC does not match"):
        replay(where, run_id)


@pytest.mark.parametrize(
    "sql",
    [
        # two rows swap places
        "UPDATE steps SET seq = 99 WHERE seq = 2; UPDATE steps SET seq = 2 WHERE seq = 3; "
        "UPDATE steps SET seq = 3 WHERE seq = 99",
        # a row removed and the rest renumbered
        "DELETE FROM steps WHERE seq = 2; UPDATE steps SET seq = seq - 1 WHERE seq > 2",
        # a row's MACs copied from its neighbour along with its output
        "UPDATE steps SET output = (SELECT output FROM steps WHERE seq = 1), "
        "mac = (SELECT mac FROM steps WHERE seq = 1) WHERE seq = 2",
    ],
    ids=["swapped", "removed", "copied"],
)
def test_reordered_removed_or_copied_rows_are_refused(where: Location, sql: str) -> None:
    run_id, _ = record(where, [{"exit_code": k} for k in range(4)])
    edit(where, sql)
    with pytest.raises(JournalForged):
        replay(where, run_id)
    assert verify(where).verdict == "forged"


def test_an_inserted_row_is_refused(where: Location) -> None:
    run_id, _ = record(where, [{"exit_code": 1}])
    edit(
        where,
        "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, status, output, "
        "attempts, idempotent, started_at, mac_start, mac) SELECT run_id, session, 2, kind, "
        "'verify_feature', input_digest, 'ended', '{\"exit_code\":0}', 1, 1, started_at, "
        "mac_start, mac FROM steps WHERE seq = 1",
    )
    with pytest.raises(JournalForged) as err:
        replay(where, run_id)
    assert err.value.step == f"{run_id}/1/2"


def test_a_poisoned_cache_entry_is_refused(where: Location) -> None:
    with Journal.open(where) as journal:
        s = journal.start_run().session(1)
        assert s.step("tool", "lint", {"f": "a"}, lambda: {"ok": False}, cache=True) == {
            "ok": False
        }
    edit(where, "UPDATE cache SET output = '{\"ok\":true}'")
    with Journal.open(where) as journal:
        s = journal.start_run().session(1)
        with pytest.raises(JournalForged, match="cache entry"):
            s.step("tool", "lint", {"f": "a"}, lambda: {"ok": False}, cache=True)
    assert verify(where).verdict == "forged"


def test_an_honest_journal_replays_and_verifies(where: Location) -> None:
    run_id, _ = record(where, [{"exit_code": k} for k in range(5)])
    with Journal.open(where) as journal:
        s = journal.resume_run(run_id).session(1)
        assert s.step("tool", "t0", {"i": 0}, lambda: {"exit_code": 9}) == {"exit_code": 0}
        # a divergence supersedes the rest, signed as superseded; the chain still holds
        with pytest.warns(UserWarning, match="divergence"):
            s.step("tool", "other", {}, lambda: {"new": 1})
    report = verify(where)
    assert report.ok, report.problems
    edit(where, "UPDATE steps SET status = 'ended', gen = 0 WHERE gen != 0 AND seq = 3")
    assert verify(where).verdict == "forged"


def test_missing_key_says_so_and_what_to_do(
    where: Location, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = cli(where, monkeypatch)
    run_id, journal_id = record(where, [{"exit_code": 0}])
    key_path(journal_id).unlink()
    with pytest.raises(JournalKeyMissing) as err:
        replay(where, run_id)
    message = str(err.value)
    assert journal_id in message and "--with-key" in message and err.value.exit_code == 2
    assert main(["-C", str(root), "journal", "verify"]) == 2
    out = capsys.readouterr().out
    assert "KEY MISSING" in out and "--with-key" in out


def test_verify_cli_names_the_forged_step(
    where: Location, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = cli(where, monkeypatch)
    run_id, _ = record(where, [{"exit_code": 1}])
    assert main(["-C", str(root), "journal", "verify"]) == 0
    assert "chain valid" in capsys.readouterr().out
    edit(where, "UPDATE steps SET output = '{\"exit_code\":0}'")
    assert main(["-C", str(root), "journal", "verify"]) == 2
    out = capsys.readouterr().out
    assert "FORGED" in out and f"{run_id}/1/1" in out and "DAMAGED" not in out


def test_the_chain_is_standard_hmac_sha256() -> None:

    key = os.urandom(32)
    chain = Chain("0123456789abcdef", key)
    link = os.urandom(32)
    fields = ("start", "run", 1, 2, "tool", "t", "d" * 64, 1)
    assert chain.start(link, *fields[1:]) == hmac.digest(
        key, link + repr(fields).encode(), "sha256"
    )
    assert chain.start(link, *fields[1:]) != Chain("0123456789abcdef", os.urandom(32)).start(
        link, *fields[1:]
    )


def test_doctor_says_the_key_is_missing_not_to_move_the_journal(
    where: Location, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = cli(where, monkeypatch)
    _, journal_id = record(where, [{"exit_code": 0}])
    key_path(journal_id).unlink()
    main(["-C", str(root), "doctor"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "key-missing" in text and "--with-key" in text and "move it aside" not in text
