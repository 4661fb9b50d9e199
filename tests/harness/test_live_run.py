"""A run you can watch: progress lines on stderr, the --json event stream read while the
run goes, `harness runs`, no empty run on a finished project, CLI conventions."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from escalation.record import user_record_path
from harness.cli import DISTRIBUTION
from harness.cli.live import ProgressLines
from harness.events import Event
from tests.session.scripted_child import HARNESS, SCRIPTED
from tests.session.support import (
    CHILD_S,
    call,
    good_turns,
    harness,
    harness_out,
    harness_run,
    init,
    make_project,
    turn,
)


def _popen(root: Path, *args: str, entry: list[str] = SCRIPTED) -> subprocess.Popen[str]:
    """`harness -C root args` in a new interpreter: by default one whose runs answer
    scripted models in process (no litellm import: what is watched is the process's
    streams, not the gateway); ``entry=HARNESS`` for plain `python -m harness`."""
    return subprocess.Popen(
        [*entry, "-C", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # 1.04 CPU-s (bench/suite_census.py)
def test_the_json_stream_is_read_line_by_line_while_the_run_goes(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=2)
    init(root)
    proc = _popen(root, "run", "--json", "--quiet")
    assert proc.stdout is not None
    events = []
    seen_while_running = 0
    for line in proc.stdout:  # one event per line, as it happens
        events.append(json.loads(line))
        if proc.poll() is None:
            seen_while_running += 1
    code = proc.wait(timeout=CHILD_S)
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 0, err
    assert seen_while_running > 0  # the stream was read before the process ended
    types = [e["type"] for e in events]
    assert types[0] == "run.started" and types[-1] == "run.ended"
    assert types.count("session.started") == 2 and types.count("session.ended") == 2
    starts = [e for e in events if e["type"] == "step.started"]
    ends = [e for e in events if e["type"] == "step.ended"]
    assert starts and len(ends) == len(starts)
    assert {e["kind"] for e in ends} >= {"llm", "tool", "git"}
    report = events[-1]["report"]
    assert report["outcome"] == "complete" and report["features_passing"] == 2
    # one set of figures: the stream's running total is the report's
    assert events[-1]["run_totals"]["tokens"] == report["tokens"] > 0
    assert sum(e["tokens"] for e in ends) == report["figures"]["this_process"]["tokens"]
    assert "run" in report["figures"]["scope"]
    assert "harness: starting run" not in err  # --quiet: no progress lines


def test_progress_lines_name_session_step_model_tool_and_totals(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    proc = harness_run(root, "run")  # in process: the lines are what it prints
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert any(line.startswith("harness: starting run") for line in lines)
    model = [line for line in lines if " model scripted/script.json " in line]
    tool = [line for line in lines if " tool verify_feature " in line]
    assert model and tool
    assert all("s1 #" in line and "run " in line and "tokens $" in line for line in model + tool)
    assert any("session 1 ended: F001 passing" in line for line in lines)
    assert proc.stdout.startswith("harness run: complete")


def test_a_finished_project_starts_no_empty_run(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    assert harness(root, "run") == 0
    code, out = harness_out(root, "runs", "--json")
    before = json.loads(out)
    assert code == 0 and [r["kind"] for r in before] == ["init", "run"]
    assert before[1]["outcome"] == "complete" and before[1]["sessions"] == 1
    code, out = harness_out(root, "run")
    assert code == 0 and "nothing to do" in out
    _, out = harness_out(root, "runs", "--json")
    assert json.loads(out) == before  # no new run
    code, out = harness_out(root, "run", "--json", "--quiet")
    (ended,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and ended["type"] == "run.ended" and ended["started"] is False
    assert ended["report"]["outcome"] == "complete" and ended["run_id"] == before[1]["id"]
    _, out = harness_out(root, "log", "--json")
    assert {json.loads(line)["run_id"] for line in out.splitlines()} == {before[1]["id"]}
    _, out = harness_out(root, "log", "--run", before[0]["id"], "--json")
    assert {json.loads(line)["session"] for line in out.splitlines()} == {0}


def test_version_and_a_closed_pipe_are_quiet(tmp_path: Path) -> None:

    done = subprocess.run(
        [sys.executable, "-m", "harness", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("harness ")

    assert version(DISTRIBUTION) in done.stdout
    root = make_project(tmp_path / "p", count=2)
    init(root)
    assert harness(root, "run") == 0
    script = f"{sys.executable} -m harness -C {root} log | head -1; echo rc=${{PIPESTATUS[0]}} >&2"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("run ")
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] in ("rc=0", "rc=141")
    assert not list((root / ".harness").glob("harness-crash-*"))
    # the reader gone before the first write: EPIPE on the first line
    broken = (
        "import sys\n"
        "from harness.cli import main\n"
        "class Gone:\n"
        "    def write(self, text): raise BrokenPipeError(32, 'Broken pipe')\n"
        "    def flush(self): raise BrokenPipeError(32, 'Broken pipe')\n"
        "    def fileno(self): return 1\n"
        f"sys.stdout = Gone()\nsys.exit(main(['-C', {str(root)!r}, 'log']))\n"
    )
    done = subprocess.run([sys.executable, "-c", broken], capture_output=True, text=True)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
    assert not list((root / ".harness").glob("harness-crash-*"))


def test_a_config_error_in_run_exits_2(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1, toml="[budgets]\nbogus = 1\n")
    assert harness(root, "run") == 2
    assert not (root / ".harness" / "journal.db").exists()  # refused before any run


def test_a_retry_back_off_says_what_it_waits_for_and_until_when(tmp_path: Path) -> None:

    turns = good_turns(1)
    turns[0] = {**turns[0], "fault": "rate_limit", "retry_after": 1, "times": 1}
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    # In process: the gateway's back-off is litellm's, as in a child; what is read is the
    # process's two streams, which harness_run gives as a child's.
    proc = harness_run(root, "run", "--json")
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    waits = [e for e in events if e["type"] == "wait"]
    assert len(waits) == 1
    assert "RateLimitError" in waits[0]["detail"] and "retry 2" in waits[0]["detail"]
    assert waits[0]["until"] - waits[0]["ts"] >= 0.9  # the provider's Retry-After: 1 s
    line = next(x for x in err.splitlines() if x.strip().startswith("waiting: retry 2"))
    assert " until " in line and "(in " in line


@pytest.mark.slow  # a whole `harness run` process and its follower; its model step takes 6 s
def test_log_follow_prints_the_steps_of_a_run_as_it_goes(tmp_path: Path) -> None:

    turns = good_turns(1)
    turns[2] = {**turns[2], "latency_s": 6.0}
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    run = _popen(root, "run", "--quiet")

    deadline = time.monotonic() + 60
    while True:  # follow once the run exists (before it, the newest run is the init)
        code, out = harness_out(root, "runs", "--json")
        assert code == 0
        if any(r["kind"] == "run" for r in json.loads(out)):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    follow = _popen(root, "log", "--follow", "--json", entry=HARNESS)
    code, out = harness_out(root, "status", "--json")
    state = json.loads(out)["run"]
    assert code == 0 and state["state"] == "running" and state["pid"] == run.pid
    assert follow.stdout is not None
    rows = [json.loads(line) for line in follow.stdout]
    assert follow.wait(timeout=CHILD_S) == 0
    assert run.wait(timeout=CHILD_S) == 0
    names = [(r["session"], r["name"]) for r in rows]
    assert (1, "mark_passing") in names and (1, "commit") in names
    assert len(names) == len(set(names)) or len(rows) == len({r["rowid"] for r in rows})
    assert {r["status"] for r in rows} <= {"ended", "failed"}


def test_validate_and_doctor_speak_json(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    code, out = harness_out(root, "validate", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    (root / "feature_list.json").write_text('{"version": 1, "features": [{"id": 3}]}')
    code, out = harness_out(root, "validate", "--json")
    found = json.loads(out)
    assert code == 2 and found["ok"] is False
    assert found["errors"][0]["file"] == "feature_list.json" and found["errors"][0]["where"]
    code, out = harness_out(root, "doctor", "--json")
    checks = json.loads(out)
    assert {c["name"] for c in checks["checks"]} >= {"git", "journal"}
    assert checks["ok"] is (code == 0)


def test_the_session_line_says_a_failed_feature_failed() -> None:
    """A session whose model stopped without its feature passing is "F001 unfinished",
    never "done F001"; a passing one "F001 passing"."""

    out = io.StringIO()
    lines = ProgressLines(out)
    for status in ("done", "passing", "stuck"):
        lines(
            Event("session.ended", run_id="r", session=1, status=status, data={"feature": "F001"})
        )
    text = out.getvalue()
    assert "session 1 ended: F001 unfinished" in text and "done" not in text
    assert "ended: F001 passing" in text and "ended: F001 stuck" in text


def test_the_writeback_s_notices_are_events_quiet_means_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 26: what the writeback tells the user (here: a file of the user's left out of
    harness's commits) goes through the run's observers: a progress line, a `notice` on
    the --json stream, and nothing on stderr with --quiet."""
    root = make_project(tmp_path / "p", count=2, toml="[budgets]\nrun_sessions = 1\n")
    init(root)
    (root / "mine.txt").write_text("the user's own work in progress\n")
    capsys.readouterr()
    code, out = harness_out(root, "run", "--json", "--quiet")
    assert code == 3
    said = "uncommitted file(s) at the start of this session"
    assert said not in capsys.readouterr().err
    notices = [e for e in map(json.loads, out.splitlines()) if e["type"] == "notice"]
    assert any(said in e["detail"] and "mine.txt" in e["detail"] for e in notices), notices

    assert harness(root, "run") == 0  # the next session, with its progress lines
    assert f"harness: 1 {said}" in capsys.readouterr().err


@pytest.mark.slow  # 1.01 CPU-s (bench/suite_census.py)
def test_the_session_s_own_notices_are_events_quiet_means_quiet(
    tmp_path: Path, state_home: Path
) -> None:
    """Issue 26: what the session tells the user goes through the run's observers, as the
    writeback's notices do: that the local runner is not a sandbox and the [verify] hidden
    paths it cannot hide, a damaged user record of escalation, and a question the run
    waits on (with its choices and how to answer). On the --json stream; nothing of them
    on stderr with --quiet."""
    record = user_record_path(state_home)
    record.parent.mkdir(parents=True)
    record.write_bytes(b"not a database, " * 64)
    asks = [turn(call("ask_human", question="Which colour?", choices=["red", "blue"]))]
    root = make_project(
        tmp_path / "p",
        count=1,
        sessions={1: [*asks, *good_turns(1)]},
        toml='[verify]\nhidden = ["notes-for-checks.txt"]\n',
    )
    init(root)
    # Interactive (a terminal on stdin, not CI): the run waits for the answer.
    terminal, tty = os.openpty()
    run = subprocess.Popen(
        [*SCRIPTED, "-C", str(root), "run", "--json", "--quiet"],
        stdin=tty,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": ""},
    )
    os.close(tty)
    assert run.stdout is not None
    events = []
    for line in run.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "question":
            assert harness(root, "answer", events[-1]["id"], "--choice", "2") == 0
    _, err = run.communicate(timeout=CHILD_S)
    os.close(terminal)
    assert run.returncode == 0, err
    notices = [e["detail"] for e in events if e["type"] == "notice"]
    hidden = "the local runner cannot hide [verify] hidden paths (notes-for-checks.txt)"
    assert any(hidden in n for n in notices), notices
    assert any("cannot open the escalation record" in n for n in notices), notices
    assert any("the local runner is NOT a sandbox" in n for n in notices), notices
    (asked,) = [e for e in events if e["type"] == "question"]
    assert asked["status"] == "waiting" and asked["choices"] == ["red", "blue"]
    for said in (hidden, "escalation record", "waiting for a human", "Which colour?", "NOT a"):
        assert said not in err, f"{said!r} on stderr under --quiet: {err}"
    # Without --quiet the question's line tells the choices and how to answer.
    question = Event(
        "question",
        session=asked["session"],
        status=asked["status"],
        detail=asked["detail"],
        data={k: asked[k] for k in ("id", "kind", "text", "choices")},
    )
    line = ProgressLines(io.StringIO()).render(question) or ""
    qid = asked["id"]
    assert "1. red; 2. blue" in line and f"harness answer {qid} TEXT` (or --choice N)" in line


def test_each_init_and_run_on_the_local_runner_says_it_is_not_a_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each run and each init that uses it, not once per process (an embedding program,
    the TUI or a fleet worker runs many): a progress line; nothing with --quiet."""
    said = "harness: WARNING: the local runner is NOT a sandbox"
    first, second = (make_project(tmp_path / name, count=1) for name in ("a", "b"))
    for root in (first, second):
        init(root)
        assert said in capsys.readouterr().err
    assert harness(first, "run") == 0
    assert said in capsys.readouterr().err
    quiet = make_project(tmp_path / "q", count=1)
    assert harness(quiet, "init", "--quiet", "--spec", str(quiet / "SPEC.md")) == 0
    assert "NOT a sandbox" not in capsys.readouterr().err
