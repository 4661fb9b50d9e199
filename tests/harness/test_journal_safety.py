"""A damaged journal is reported and left byte-for-byte; secrets never reach the store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from harness.errors import JournalDamaged, JournalError
from harness.journal import Journal, faults
from harness.journal.verify import verify
from harness.redact import redact


def make_journal(state: Path, steps: int = 300) -> str:
    with Journal.open(state) as journal:
        run = journal.start_run()
        s = run.session(1)
        for i in range(steps):
            s.step("tool", f"t{i}", {"i": i, "pad": "p" * 200}, lambda i=i: {"i": i})
        return run.id


def checkpointed(state: Path) -> bytes:
    conn = sqlite3.connect(state / "journal.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return (state / "journal.db").read_bytes()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: data[:50], "truncated"),
        (lambda data: b"\x00garbage!" * 500, "not an SQLite database"),
        (lambda data: data[:8192] + b"\xde\xad\xbe\xef" * 2048 + data[16384:], "damaged"),
    ],
    ids=["half", "header", "garbage", "garbage-pages"],
)
def test_damaged_journal_is_reported_and_never_changed(
    tmp_path: Path, damage: object, expected: str
) -> None:
    state = tmp_path / ".harness"
    make_journal(state)
    bad = damage(checkpointed(state))  # type: ignore[operator]
    (state / "journal.db").write_bytes(bad)
    with pytest.raises(JournalDamaged) as err, Journal.open(state) as journal:
        journal.steps()  # pages may only be read here
        journal.start_run().session(1).step("tool", "x", {}, lambda: 1)
    message = str(err.value)
    assert expected in message and str(state / "journal.db") in message
    assert err.value.exit_code == 2
    # Restoring comes first; moving the journal aside (losing the run) only after it.
    assert message.index("Restore it") < message.index("move it aside")
    assert (state / "journal.db").read_bytes() == bad
    report = verify(state)
    assert not report.ok
    assert (state / "journal.db").read_bytes() == bad


def test_newer_schema_is_refused_with_upgrade_advice(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    make_journal(state, steps=1)
    conn = sqlite3.connect(state / "journal.db")
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    before = checkpointed(state)
    with pytest.raises(JournalDamaged, match="schema version 99, newer"):
        Journal.open(state)
    with pytest.raises(JournalDamaged):
        Journal.open_readonly(state)
    assert (state / "journal.db").read_bytes() == before


def test_verify_finds_blob_damage_and_broken_sequences(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run()
        s = run.session(1)
        s.step("tool", "big", {}, lambda: "z" * 50_000)
        s.step("tool", "a", {}, lambda: 1)
        s.step("tool", "b", {}, lambda: 2)
    assert verify(state).ok and verify(state).steps == 3
    blob = next(p for p in (state / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"tampered")
    conn = sqlite3.connect(state / "journal.db")
    conn.execute("UPDATE steps SET status = 'started' WHERE seq = 2")
    conn.execute("DELETE FROM steps WHERE seq = 3")
    conn.execute(
        "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, status, started_at) "
        "VALUES (?, 1, 5, 'tool', 'c', '', 'ended', 0)",
        (run.id,),
    )
    conn.commit()
    conn.close()
    problems = "\n".join(verify(state).problems)
    assert "does not match its digest" in problems
    assert "has no end but is not the session's last step" in problems
    assert "expected step 3" in problems


def test_missing_journal_for_readers_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal"):
        Journal.open_readonly(tmp_path / ".harness")


CANARIES = {
    "OPENAI": "sk-proj-CANARYopenai0123456789abcdefXYZ",
    "ANTHROPIC": "sk-ant-api03-CANARYanthropic0123456789abcdef",
    "AWS": "AKIACANARY0123456789",
    "GITHUB": "ghp_CANARYgithub0123456789abcdefABCDEF",
    "SLACK": "xoxb-CANARY-slack-0123456789",
    "BEARER": "CANARYbearer.0123456789abcdef",
    "ENV": "canary-env-value-!@#$%",
    "ENV_QUOTED": 'canary"quoted\\value\nline2',
}


def test_canary_secrets_never_reach_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", CANARIES["ENV"])
    monkeypatch.setenv("DB_PASSWORD", CANARIES["ENV_QUOTED"])
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Some Author Name")  # not a secret
    text = " ".join(
        [
            CANARIES["OPENAI"],
            CANARIES["ANTHROPIC"],
            f"key={CANARIES['AWS']}",
            CANARIES["GITHUB"],
            CANARIES["SLACK"],
            f"Authorization: Bearer {CANARIES['BEARER']}",
            f"\n{CANARIES['ENV']}\n",
            CANARIES["ENV_QUOTED"],
        ]
    )
    state = tmp_path / ".harness"

    def fail() -> None:
        raise ValueError(f"could not log in with {text}")

    with Journal.open(state) as journal:
        run = journal.start_run(meta={"env": text})
        s = run.session(1, meta={"note": text})
        out = s.step("llm", "c", {"prompt": text, text: 1}, lambda: {"reply": text})
        assert out == {"reply": text}  # the live caller still gets the real value
        s.step("tool", "big", {"blob": text * 2000}, lambda: [text] * 2000)
        with pytest.raises(ValueError):
            s.step("tool", "fail", {}, fail)
        s.close("done", {"summary": text})
        run.finish("complete", {"report": text})
        detail = journal.step_detail(run.id, 1, 1)
        assert detail is not None
        assert "[REDACTED:OPENAI_KEY]" in detail.output["reply"]
        assert "[REDACTED:MY_SERVICE_TOKEN]" in detail.output["reply"]
        assert "[REDACTED:DB_PASSWORD]" in detail.output["reply"]
        open_files = assert_no_canary(state)  # while the WAL still holds the writes
        assert any(p.name.endswith("-wal") for p in open_files)
    files = assert_no_canary(state)  # after the checkpoint into journal.db
    assert any("blobs" in p.parts for p in files)


def assert_no_canary(state: Path) -> list[Path]:
    files = [p for p in state.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for name, canary in CANARIES.items():
            for form in (canary, canary.replace("\\", "\\\\").replace('"', '\\"')):
                assert form.encode() not in data, f"{name} canary leaked into {path}"
            assert b"CANARY" not in data and b"canary" not in data, f"{name} in {path}"
    return files


def test_redact_function_and_false_positives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_API_KEY", "abcdefgh12345")
    monkeypatch.setenv("SHORT_TOKEN", "abc")
    assert redact({"a": ["x abcdefgh12345 y"]}) == {"a": ["x [REDACTED:SERVICE_API_KEY] y"]}
    assert redact("abc") == "abc"  # too short to be treated as a secret
    assert redact("the task-assessment-for-the-project-now") == (
        "the task-assessment-for-the-project-now"
    )
    assert redact("Bearer abcdefghijkl") == "Bearer [REDACTED:BEARER_TOKEN]"


def test_the_open_check_is_skipped_only_for_files_as_harness_left_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clean close vouches for the files (an HMAC over inode, size, mtime, ctime); any
    write since, even with its mtime put back, or a forged stamp, gets quick_check."""

    state = tmp_path / ".harness"
    make_journal(state)
    db, stamp = state / "journal.db", state / "journal.checked"
    assert stamp.exists()

    checks: list[Path] = []
    real_check = faults.check
    monkeypatch.setattr(faults, "check", lambda path: checks.append(path) or real_check(path))
    Journal.open(state).close()
    assert checks == []  # the stamp holds: opened without the full check
    before = db.stat()
    data = bytearray(db.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + 4096] = b"\xde\xad\xbe\xef" * 1024
    db.write_bytes(bytes(data))
    os.utime(db, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back; ctime moved
    with pytest.raises(JournalDamaged, match="quick_check"):
        Journal.open(state)
    assert checks == [db]
    stamp.write_text("0" * 64 + "\n")  # a stamp nobody with the key wrote
    with pytest.raises(JournalDamaged):
        Journal.open(state)
    assert db.read_bytes() == bytes(data)
