"""The data layer alone: change detection, event filtering, incremental journal reads."""

from __future__ import annotations

import threading
from pathlib import Path

from harness.journal import Journal
from tui.data import ProjectData, source_of
from tui.journal_view import JournalFollower, command_of
from tui.model import Update
from tui.watch import ChangeWatcher


def test_source_of_maps_watched_files_only(tmp_path: Path) -> None:
    assert source_of(str(tmp_path / "feature_list.json"), tmp_path) == "features"
    assert source_of(str(tmp_path / ".harness" / "journal.db-wal"), tmp_path) == "journal"
    assert source_of(str(tmp_path / ".harness" / "questions.db"), tmp_path) == "questions"
    assert source_of(str(tmp_path / ".harness" / "journal.db-shm"), tmp_path) is None
    assert source_of("/elsewhere/feature_list.json", tmp_path) is None


def test_reads_do_not_wake_the_watcher(tmp_path: Path) -> None:
    wake = threading.Event()
    watcher = ChangeWatcher(tmp_path, wake)
    for kind in ("opened", "closed_no_write"):  # what our own reads cause
        watcher.seen(kind, str(tmp_path / "feature_list.json"), "")
    assert not wake.is_set()
    # an atomic write: a temp file renamed over the real one
    temp, final = tmp_path / ".feature_list.json.tmp", tmp_path / "feature_list.json"
    watcher.seen("moved", str(temp), str(final))
    assert wake.is_set() and watcher.dirty == {"features"}


def test_refresh_reports_only_what_changed(project: Path) -> None:
    data = ProjectData(project)
    first = data.refresh()
    assert first.features is not None and first.progress is not None
    assert data.refresh().empty()
    (project / "progress.md").write_text((project / "progress.md").read_text() + "\n")
    again = data.refresh()
    assert again.progress is not None and again.features is None


def test_follower_reads_the_tail_then_only_new_and_finished_steps(tmp_path: Path) -> None:
    writer = Journal.open(tmp_path / ".harness")
    run = writer.start_run()
    session = run.session(1)
    for i in range(50):
        session.step("tool", f"t{i}", {"i": i}, lambda: {"ok": True})
    writer.flush()  # the last quick step's end (deferred until the next statement or 50 ms)
    follower = JournalFollower(tmp_path / ".harness", tail=10)
    first = Update()
    follower.read(first)
    assert [s.name for s in first.steps] == [f"t{i}" for i in range(40, 50)]
    assert first.sessions is not None and first.sessions[0].steps == 50
    seen_inside: list[list[tuple[str, str]]] = []

    def slow() -> dict[str, bool]:
        inside = Update()
        follower.read(inside)  # while the step is in flight
        seen_inside.append([(s.name, s.status) for s in inside.steps])
        return {"ok": True}

    session.step("llm", "call", {}, slow)
    after = Update()
    follower.read(after)
    assert seen_inside == [[("call", "running")]]
    assert [(s.name, s.status) for s in after.steps] == [("call", "ok")]
    nothing = Update()
    follower.read(nothing)
    assert nothing.steps == []
    follower.close()
    writer.close()


def test_command_of_reads_runner_results_and_run_tool_results() -> None:
    result = {"command": "pytest", "exit_code": 1, "failure": None}
    assert command_of("runner", {}, result) == result
    tool = {"status": "error", "data": {"exit_code": None, "failure": {"kind": "timeout"}}}
    found = command_of("tool", {"arguments": '{"command": "make test"}'}, tool)
    assert found == {"exit_code": None, "failure": {"kind": "timeout"}, "command": "make test"}
    assert command_of("tool", {}, {"status": "ok", "data": {}}) is None
