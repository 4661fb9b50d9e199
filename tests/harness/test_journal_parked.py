"""`journal verify` (and so `doctor`) on a parked run: questions left open on purpose are
not damage; any other step left open mid-session still is."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from harness.errors import Parked
from harness.journal import Journal
from harness.journal.faults import PROBE_NAME, probe
from harness.journal.verify import verify


def _park(question: str) -> None:
    raise Parked(question, "is it done?")


def test_several_open_questions_in_one_session_are_healthy(tmp_path: Path) -> None:
    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run()
        session = run.session(0)
        session.step("runner", "reverify:F001", {}, lambda: {"exit": 0})
        for n in (1, 2, 3):  # asked one after the other, all before the run parks
            with pytest.raises(Parked):
                session.step("human", f"reverify:F00{n + 1}", {}, lambda n=n: _park(f"q{n}"))
        run.park("waiting_for_human", {})
    report = verify(state)
    assert report.ok and report.verdict == "ok", report.problems
    assert report.steps == 4


def test_another_kind_of_step_left_open_mid_session_is_still_damage(tmp_path: Path) -> None:

    state = tmp_path / ".harness"
    with Journal.open(state) as journal:
        run = journal.start_run()
        session = run.session(1)
        session.step("tool", "a", {}, lambda: 1)
        session.step("tool", "b", {}, lambda: 2)
    conn = sqlite3.connect(state / "journal.db")
    conn.execute("UPDATE steps SET status = 'started' WHERE seq = 1")
    conn.commit()
    conn.close()
    assert any("has no end" in p for p in verify(state).problems)


@pytest.mark.parametrize("unnamed", [True, False])
def test_the_storage_probe_leaves_nothing_in_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    """A failed run tries the disk of the project folder too: no probe.tmp stays there.
    With O_TMPFILE nothing is left anywhere; without, the file is kept only in .harness/."""

    if not unnamed:
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    assert probe(tmp_path) is None
    assert probe(tmp_path / ".harness") is None  # not there yet: tried in its parent
    assert os.listdir(tmp_path) == []
    (tmp_path / ".harness").mkdir()
    assert probe(tmp_path / ".harness") is None
    assert os.listdir(tmp_path / ".harness") == ([] if unnamed else [PROBE_NAME])
