"""The HMAC chain: a row edited, moved or removed outside harness is refused, by name."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import JournalForged, JournalKeyMissing
from harness.journal import Journal
from harness.journal.keys import key_path
from harness.journal.verify import verify


def record(state: Path, outputs: list[dict[str, int]]) -> tuple[str, str]:
    """A run whose session 1 recorded one tool step per output; (run id, journal id)."""
    with Journal.open(state) as journal:
        run = journal.start_run()
        s = run.session(1)
        for i, out in enumerate(outputs):
            s.step("tool", f"t{i}", {"i": i}, lambda out=out: out)
        return run.id, str(journal.id)


def edit(state: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(state / "journal.db")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def steps(state: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(state / "journal.db")
    rows = conn.execute("SELECT * FROM steps ORDER BY id").fetchall()
    conn.close()
    return rows


def replay(state: Path, run_id: str) -> None:
    with Journal.open(state) as journal:
        journal.resume_run(run_id).session(1)


def test_key_lives_outside_the_project_with_mode_0600(tmp_path: Path, state_home: Path) -> None:
    state = tmp_path / "p" / ".harness"
    _, journal_id = record(state, [{"exit_code": 1}])
    path = key_path(journal_id)
    assert path.parent == state_home / "keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not any(p.name.endswith(".key") for p in state.rglob("*"))


def test_an_edited_result_is_refused_naming_the_step(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    run_id, _ = record(state, [{"exit_code": 0}, {"exit_code": 1}, {"exit_code": 0}])
    edit(state, "UPDATE steps SET output = '{\"exit_code\":0}' WHERE seq = 2")
    before = steps(state)
    with pytest.raises(JournalForged) as err:
        replay(state, run_id)
    assert err.value.step == f"{run_id}/1/2" and err.value.exit_code == 2
    assert f"step {run_id}/1/2" in str(err.value) and "seq 2" in str(err.value)
    assert steps(state) == before  # nothing overwritten
    report = verify(state)
    assert report.verdict == "forged"
    assert any(f"{run_id}/1/2" in p for p in report.problems)


def test_a_failure_turned_into_success_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run()
        s = run.session(1)

        def fail() -> None:
            raise RuntimeError("exit 1")

        with pytest.raises(RuntimeError):
            s.step("tool", "verify_feature", {}, fail)
        run_id = run.id
    edit(state, "UPDATE steps SET status = 'ended', error = NULL, output = '{\"exit_code\":0}'")
    with pytest.raises(JournalForged, match="ended result its MAC does not match"):
        replay(state, run_id)


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
def test_reordered_removed_or_copied_rows_are_refused(tmp_path: Path, sql: str) -> None:
    state = tmp_path / ".harness"
    run_id, _ = record(state, [{"exit_code": k} for k in range(4)])
    conn = sqlite3.connect(state / "journal.db")
    conn.executescript(sql)
    conn.close()
    with pytest.raises(JournalForged):
        replay(state, run_id)
    assert verify(state).verdict == "forged"


def test_an_inserted_row_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    run_id, _ = record(state, [{"exit_code": 1}])
    edit(
        state,
        "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, status, output, "
        "attempts, idempotent, started_at, mac_start, mac) SELECT run_id, session, 2, kind, "
        "'verify_feature', input_digest, 'ended', '{\"exit_code\":0}', 1, 1, started_at, "
        "mac_start, mac FROM steps WHERE seq = 1",
    )
    with pytest.raises(JournalForged) as err:
        replay(state, run_id)
    assert err.value.step == f"{run_id}/1/2"


def test_a_poisoned_cache_entry_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        s = journal.start_run().session(1)
        assert s.step("tool", "lint", {"f": "a"}, lambda: {"ok": False}, cache=True) == {
            "ok": False
        }
    edit(state, "UPDATE cache SET output = '{\"ok\":true}'")
    with Journal.open(state) as journal:
        s = journal.start_run().session(1)
        with pytest.raises(JournalForged, match="cache entry"):
            s.step("tool", "lint", {"f": "a"}, lambda: {"ok": False}, cache=True)
    assert verify(state).verdict == "forged"


def test_an_honest_journal_replays_and_verifies(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    run_id, _ = record(state, [{"exit_code": k} for k in range(5)])
    with Journal.open(state) as journal:
        s = journal.resume_run(run_id).session(1)
        assert s.step("tool", "t0", {"i": 0}, lambda: {"exit_code": 9}) == {"exit_code": 0}
        # a divergence supersedes the rest, signed as superseded; the chain still holds
        with pytest.warns(UserWarning, match="divergence"):
            s.step("tool", "other", {}, lambda: {"new": 1})
    report = verify(state)
    assert report.ok, report.problems
    edit(state, "UPDATE steps SET status = 'ended', gen = 0 WHERE gen != 0 AND seq = 3")
    assert verify(state).verdict == "forged"


def test_missing_key_says_so_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "p"
    run_id, journal_id = record(root / ".harness", [{"exit_code": 0}])
    key_path(journal_id).unlink()
    with pytest.raises(JournalKeyMissing) as err:
        replay(root / ".harness", run_id)
    message = str(err.value)
    assert journal_id in message and "--with-key" in message and err.value.exit_code == 2
    assert main(["-C", str(root), "journal", "verify"]) == 2
    out = capsys.readouterr().out
    assert "KEY MISSING" in out and "--with-key" in out


def test_verify_cli_names_the_forged_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "p"
    run_id, _ = record(root / ".harness", [{"exit_code": 1}])
    assert main(["-C", str(root), "journal", "verify"]) == 0
    assert "chain valid" in capsys.readouterr().out
    edit(root / ".harness", "UPDATE steps SET output = '{\"exit_code\":0}'")
    assert main(["-C", str(root), "journal", "verify"]) == 2
    out = capsys.readouterr().out
    assert "FORGED" in out and f"{run_id}/1/1" in out and "DAMAGED" not in out


def test_a_version_1_journal_is_signed_as_it_stands(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    run_id, _ = record(state, [{"exit_code": 0}, {"exit_code": 1}])
    conn = sqlite3.connect(state / "journal.db")
    conn.executescript(
        "UPDATE schema_version SET version = 1; DROP TABLE meta;"
        "ALTER TABLE steps DROP COLUMN mac_start; ALTER TABLE steps DROP COLUMN mac;"
        "ALTER TABLE cache DROP COLUMN mac;"
    )
    conn.close()
    assert any("predates the HMAC chain" in n for n in verify(state).notes)
    with Journal.open(state) as journal:
        s = journal.resume_run(run_id).session(1)
        assert s.step("tool", "t0", {"i": 0}, lambda: {}) == {"exit_code": 0}
        assert s.step("tool", "t1", {"i": 1}, lambda: {}) == {"exit_code": 1}
        assert s.step("tool", "t2", {"i": 2}, lambda: {"new": 2}) == {"new": 2}
    assert verify(state).ok


def test_the_chain_is_standard_hmac_sha256() -> None:
    import hmac
    import os

    from harness.journal.chain import Chain

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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "p"
    _, journal_id = record(root / ".harness", [{"exit_code": 0}])
    key_path(journal_id).unlink()
    main(["-C", str(root), "doctor"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "key-missing" in text and "--with-key" in text and "move it aside" not in text
