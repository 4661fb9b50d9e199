"""End to end through litellm's scripted model, real git, SQLite and the local runner:
init then run to all passing, the run report and its exit codes, limits and compaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artifacts.progress import read_progress
from harness.journal import Journal
from tests.session.support import (
    call,
    commit_count,
    good_turns,
    harness,
    init,
    init_commits,
    llm_inputs,
    make_project,
    passing,
    progress_sessions,
    session_commits,
    turn,
)


def test_init_then_run_to_all_passing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=3)
    init(root)
    assert passing(root) == []
    report_file = tmp_path / "report.json"
    assert harness(root, "run", "--report", str(report_file)) == 0

    report = json.loads(report_file.read_text())
    assert report["outcome"] == "complete"
    assert report["exit_code"] == 0
    assert (report["features_passing"], report["features_total"]) == (3, 3)
    assert passing(root) == ["F001", "F002", "F003"]
    run_id = report["run_id"]
    # one commit per session plus the init commit; one progress entry per session
    assert session_commits(root) == {f"{run_id}/{n}": 1 for n in (1, 2, 3)}
    assert init_commits(root) == 1
    assert commit_count(root) == 4
    assert progress_sessions(root) == {0: 1, 1: 1, 2: 1, 3: 1}
    assert [e.outcome for e in read_progress(root)][1:] == ["passing"] * 3
    # evidence cites the verify_feature step of the session that marked it
    features = json.loads((root / "feature_list.json").read_text())["features"]
    with Journal.open_readonly(root / ".harness") as journal:
        for number, feature in enumerate(features, start=1):
            evidence = feature["evidence"]
            ref = evidence["verification"]
            assert ref.startswith(f"journal:{journal.journal_id}/{run_id}/{number}/")
            seq = int(ref.rsplit("/", 1)[1])
            step = journal.step_detail(run_id, number, seq)
            assert step is not None
            assert (step.kind, step.name, step.status) == ("tool", "verify_feature", "ended")
            [verified] = [e for e in step.output["effects"] if e["kind"] == "verified"]
            assert verified["exit_code"] == 0 and verified["feature"] == feature["id"]
            assert evidence["session"] == number
            assert evidence["command"] == feature["check"]
    # a finished project: run again does nothing, init again changes nothing
    before = (root / "feature_list.json").read_bytes()
    assert harness(root, "run") == 0
    assert harness(root, "init", "--spec", str(root / "SPEC.md")) == 0
    assert commit_count(root) == 4
    assert (root / "feature_list.json").read_bytes() == before


def test_run_budget_exhausted_exits_3_with_report(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=2, toml="[budgets]\nrun_sessions = 1\n")
    init(root)
    report_file = tmp_path / "report.json"
    assert harness(root, "run", "--report", str(report_file)) == 3
    report = json.loads(report_file.read_text())
    assert (report["outcome"], report["exit_code"]) == ("budget_exhausted", 3)
    assert "run_sessions" in report["detail"]
    assert passing(root) == ["F001"]
    assert len(report["sessions"]) == 1
    # the next run goes on where this one stopped
    assert harness(root, "run") == 0
    assert passing(root) == ["F001", "F002"]
    assert progress_sessions(root) == {0: 1, 1: 1, 2: 1}


def test_repeating_the_same_failing_call_is_stuck_exit_5(tmp_path: Path) -> None:
    again = turn(call("verify_feature", feature="F001"))  # done_a.txt never appears
    root = make_project(tmp_path / "p", count=2, sessions={1: [again] * 10})
    init(root)
    report_file = tmp_path / "report.json"
    assert harness(root, "run", "--report", str(report_file)) == 5
    report = json.loads(report_file.read_text())
    assert (report["outcome"], report["exit_code"]) == ("stuck", 5)
    entry = read_progress(root)[-1]
    assert (entry.session, entry.outcome) == (1, "stuck")
    assert "Stuck on F001" in entry.summary
    # it stopped after 3 identical rounds instead of using the 10 the script offers
    calls = [s for s, _ in llm_inputs(root) if s.run_id == report["run_id"]]
    assert len(calls) == 3
    assert passing(root) == []


def test_session_step_budget_ends_the_session_as_budget_exhausted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = "[budgets]\nrun_sessions = 1\n"
    root = make_project(tmp_path / "p", count=2, toml=toml)
    init(root)  # the initializer needs more than 3 steps (it shares session_steps)
    monkeypatch.setenv("HARNESS_BUDGETS_SESSION_STEPS", "3")
    assert harness(root, "run") == 3
    entry = read_progress(root)[-1]
    assert (entry.session, entry.outcome) == (1, "budget exhausted")
    assert "step limit 3" in entry.summary
    assert passing(root) == []
    assert len(session_commits(root)) == 1  # the session's work is committed all the same


def test_compaction_keeps_a_tiny_context_session_going(tmp_path: Path) -> None:
    reads = [
        turn(call("read_file", path="SPEC.md")),
        turn(call("list_files", pattern="*")),
        turn(call("read_file", path="harness.toml")),
        turn(call("grep", regex="done_", glob="*.md")),
    ]
    sessions = {1: reads + good_turns(1)}
    tiny = "context_window = 2000\ncompact_at = 0.5\n"
    root = make_project(tmp_path / "p", count=1, sessions=sessions, model=tiny)
    init(root)
    assert harness(root, "run") == 0
    assert passing(root) == ["F001"]
    run_calls = [inputs for step, inputs in llm_inputs(root) if step.session == 1]
    markers = [
        m["content"]
        for inputs in run_calls
        for m in inputs["new_messages"]
        if str(m.get("content") or "").startswith("[harness: compacted ")
    ]
    assert markers, "no model call saw a compacted transcript"
    assert "Your feature remains F001" in markers[-1]
    # every turn of the script was played in order: compaction kept the turn index
    assert len(run_calls) == len(reads) + 5
