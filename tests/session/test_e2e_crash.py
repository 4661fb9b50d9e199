"""A SIGKILL in each phase of a session (wake, orient, work, writeback) resumes with no
duplicate commit and no duplicate progress entry, and the transcript stays valid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from artifacts.git import GitRepo
from artifacts.models import ProgressEntry
from artifacts.progress import append_progress
from harness.journal import Journal
from tests.session.support import (
    commit_count,
    harness_proc,
    harness_run,
    init,
    llm_inputs,
    log_json,
    make_project,
    passing,
    progress_sessions,
    session_commits,
)


def _run_id(root: Path) -> str:
    with Journal.open_readonly(root / ".harness") as journal:
        run_id = journal.latest_run()
    assert run_id is not None
    return run_id


def _progress_landed(root: Path) -> None:
    """As if the killed process had appended the entry just before dying."""

    entry = ProgressEntry(
        session=1,
        date=datetime.now(UTC).replace(microsecond=0),
        feature="F001",
        outcome="passing",
        summary="written before the kill",
        next="F002",
    )
    assert append_progress(root, entry)


def _commit_landed(root: Path) -> None:
    """As if the killed process had committed just before dying."""
    with GitRepo.open(root) as repo:
        repo.commit("session 1: F001 passing", trailers={"Harness-Session": f"{_run_id(root)}/1"})


# (the crash switch: `--in kind:name[#k]` or `--at-step N`; the step in flight: kind,
# name, session; what "landed" before the kill)
Switch = dict[str, Any]
CASES: dict[str, tuple[Switch, tuple[str, str, int], Callable[[Path], None] | None]] = {
    "wake": ({"crash_in": "runner:wake:init.sh"}, ("runner", "wake:init.sh", 1), None),
    "orient": ({"crash_in": "artifact:orient#2"}, ("artifact", "orient", 2), None),
    "work-tool": ({"crash_in": "tool:write_file"}, ("tool", "write_file", 1), None),
    "work-llm": ({"crash_in": "llm:*#2"}, ("llm", "scripted/script.json", 1), None),
    "work-step-n": ({"crash_at_step": 3}, ("tool", "mark_passing", 1), None),
    "writeback-progress": (
        {"crash_in": "artifact:progress.append"},
        ("artifact", "progress.append", 1),
        None,
    ),
    "writeback-progress-landed": (
        {"crash_in": "artifact:progress.append"},
        ("artifact", "progress.append", 1),
        _progress_landed,
    ),
    "writeback-commit": ({"crash_in": "git:commit#2"}, ("git", "commit", 2), None),
    "writeback-commit-landed": (
        {"crash_in": "git:commit"},
        ("git", "commit", 1),
        _commit_landed,
    ),
}


def transcript_problems(inputs: list[dict[str, Any]]) -> list[str]:
    """Why the messages sent in one session (rebuilt from the llm steps) are not valid."""
    problems: list[str] = []
    sent: list[dict[str, Any]] = []
    for call in inputs:
        sent += call["new_messages"]
        if call["message_count"] != len(sent):
            problems.append(f"message_count {call['message_count']} != {len(sent)} rebuilt")
        waiting: set[str] = set()
        for message in sent:
            if message["role"] == "tool":
                if message["tool_call_id"] not in waiting:
                    problems.append(f"tool result {message['tool_call_id']} answers no call")
                waiting.discard(message["tool_call_id"])
                continue
            if waiting:
                problems.append(f"calls {sorted(waiting)} have no result before the next message")
                waiting = set()
            if message["role"] == "assistant":
                waiting = {c["id"] for c in message.get("tool_calls") or []}
        if waiting:
            problems.append(f"calls {sorted(waiting)} sent to the model without their results")
    return problems


@pytest.mark.slow(reason="crashes its harness child")
@pytest.mark.parametrize("case", list(CASES))
def test_crash_in_a_phase_resumes_without_duplicates(tmp_path: Path, case: str) -> None:
    switch, (kind, name, session), landed = CASES[case]
    root = make_project(tmp_path / "p", count=2)
    init(root)

    crashed = harness_proc(root, "run", **switch)
    assert crashed.returncode == -9, crashed.stderr
    assert "crashing on purpose" in crashed.stderr
    if landed is not None:
        landed(root)
    resumed = harness_run(root, "run")
    assert resumed.returncode == 0, resumed.stderr
    # The resumed session sends the model what the killed one did: its brief is the one
    # recorded, not rebuilt from a feature list and progress file the session changed.
    assert "inputs differ from the ones recorded" not in resumed.stderr

    run_id = _run_id(root)
    assert passing(root) == ["F001", "F002"]
    assert session_commits(root) == {f"{run_id}/1": 1, f"{run_id}/2": 1}
    assert commit_count(root) == 3  # init + one per session
    assert progress_sessions(root) == {0: 1, 1: 1, 2: 1}
    rows = log_json(root)
    rerun = [(r["kind"], r["name"], r["session"]) for r in rows if r["attempts"] > 1]
    assert rerun == [(kind, name, session)]
    assert [r["attempts"] for r in rows if r["attempts"] > 1] == [2]
    assert all(r["status"] == "ended" for r in rows)
    for number in (1, 2):
        calls = [i for s, i in llm_inputs(root) if s.run_id == run_id and s.session == number]
        assert calls
        assert transcript_problems(calls) == []


def test_transcript_check_can_fail() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "x", "arguments": "{}"}}
    good = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    assert transcript_problems([{"new_messages": good, "message_count": 3}]) == []
    bad = good[:2]
    assert transcript_problems([{"new_messages": bad, "message_count": 2}])
    later = [
        {"new_messages": bad, "message_count": 2},
        {"new_messages": [good[0]], "message_count": 3},
    ]
    assert transcript_problems(later)
