"""Session endings are one closed set (issue 26): the progress file's words cover them, and
the run report lists each session as a SessionOutcome with one of them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import get_args

from session.cycle import SessionOutcome
from session.loop import Ending, SessionEnding
from session.progress import OUTCOME_WORDS
from tests.session.support import harness, init, make_project


def test_every_session_ending_has_its_word_in_progress_md() -> None:
    # "complete" (no feature left) writes no progress entry; every other ending does.
    assert set(OUTCOME_WORDS) == set(get_args(SessionEnding)) - {"complete"}
    assert set(get_args(Ending)) <= set(get_args(SessionEnding))  # the loop's, passed on


def test_the_run_report_lists_each_session_s_outcome(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=2, toml="[budgets]\nrun_sessions = 1\n")
    init(root)
    report_file = tmp_path / "report.json"
    assert harness(root, "run", "--report", str(report_file)) == 3
    (session,) = json.loads(report_file.read_text())["sessions"]
    assert set(session) == {f.name for f in dataclasses.fields(SessionOutcome)}
    assert (session["number"], session["feature"], session["ending"]) == (1, "F001", "passing")
