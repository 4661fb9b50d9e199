"""Large strings in the journal: kept in the blob store once by content, read back whole
(inputs, outputs, the cache), checked by `journal verify`, and a changed blob refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import JournalDamaged
from harness.journal import Journal
from harness.journal.codec import LARGE_STRING, join_large, split_large

BIG = "é" + "x" * (LARGE_STRING + 10) + "🙂"  # non-ASCII text


def test_split_and_join_give_back_the_value() -> None:
    stored: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        key = f"{len(stored):064d}"
        stored[key] = data
        return key

    odd = BIG + "\udcff"  # a lone surrogate (a decoded file's bad byte) too
    value = {"a": [BIG, "small", {"b": odd}], "n": 3}
    text = split_large(json.dumps(value), put)
    assert len(text) < 500 and text.count('"$blob"') == 2
    assert join_large(text, json.loads(text), stored.__getitem__) == value
    small = json.dumps({"a": "x" * 100})
    assert split_large(small, put) == small


def _sizes(state: Path) -> int:
    return sum(p.stat().st_size for p in (state / "blobs").rglob("*") if p.is_file())


def test_one_string_in_three_steps_is_stored_once(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run("run")
        session = run.session(1)
        answer = session.step("llm", "m", {"messages": ["hi"]}, lambda: {"args": BIG})
        session.step("tool", "write_file", {"arguments": BIG}, lambda: "wrote")
        session.step("llm", "m", {"new": [{"args": BIG}]}, lambda: {"text": "ok"})
        assert answer == {"args": BIG}
        blobs = _sizes(state)
        assert len(BIG.encode("utf-8", "surrogatepass")) <= blobs < 1.2 * len(BIG)
        steps = journal.steps()
        detail = journal.step_detail(steps[1].run_id, 1, 2)
        assert detail is not None and detail.inputs == {"arguments": BIG}
    with Journal.open(state) as journal:  # replayed from the store
        run = journal.resume_run(run.id)
        again = run.session(1).step("llm", "m", {"messages": ["hi"]}, lambda: {"args": "live"})
        assert again == {"args": BIG}


def test_a_changed_blob_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run("run")
        run.session(1).step("tool", "t", {"arguments": BIG}, lambda: "done")
        (blob,) = [p for p in (state / "blobs").rglob("*") if p.is_file()]
        blob.write_bytes(b"x" * blob.stat().st_size)
        with pytest.raises(JournalDamaged, match="does not match its digest"):
            journal.step_detail(run.id, 1, 1)
