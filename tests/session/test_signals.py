"""SIGTERM and SIGHUP stop `harness run` as Ctrl-C does (issue 23).

A scheduler stopping the job (SIGTERM) or a closed terminal (SIGHUP) during a model call,
a command (on the local runner, bubblewrap and Docker) and a commit: harness exits with
the shell's code for the signal (143, 129), writes its report (outcome `interrupted`,
resumable), leaves no process of the command running (the container is gone too), and
the next `harness run` resumes at the step that was in flight and finishes the job with
one commit per session. The signal goes to the harness process only, as `kill PID` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runners.bwrap import bwrap_version
from tests.conftest import git
from tests.session.docker_support import docker_project, finish, leftovers
from tests.session.scripted_child import HARNESS, SCRIPTED
from tests.session.support import (
    SCRIPT,
    call,
    good_turns,
    harness_proc,
    init,
    make_project,
    passing,
    session_commits,
    steps,
    turn,
)

pytestmark = pytest.mark.slow(reason="signals its harness child")  # child harness processes
SIGNALS = [signal.SIGTERM, signal.SIGHUP]
REPO = Path(__file__).resolve().parents[2]


def _start(root: Path, report: Path, *prefix: str) -> subprocess.Popen[str]:
    """`harness run` (or ``prefix``'s command) in a new interpreter of its own group."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_CRASH")}
    command = list(prefix) or SCRIPTED
    return subprocess.Popen(
        [*command, "-C", str(root), "run", "--json", "--report", str(report)],
        cwd=REPO,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the test's own cleanup kills the group; the signal does not
    )


def _wait_for_step(proc: subprocess.Popen[str], kind: str) -> None:
    """Read the --json stream until a step of ``kind`` starts."""
    assert proc.stdout is not None and proc.stderr is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "step.started" and event.get("kind") == kind:
            return
    raise AssertionError(f"no {kind} step started; stderr: {proc.stderr.read()}")


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    """Send ``signum`` to the harness process only; its exit code and stderr."""
    os.kill(proc.pid, signum)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, err


def _interrupted(report: Path, signum: int, code: int, err: str) -> None:
    name = signal.Signals(signum).name
    assert code == 128 + signum, err
    data = json.loads(report.read_text())
    assert data["outcome"] == "interrupted" and data["exit_code"] == 128 + signum
    assert data["resumable"] is True and name in data["detail"]
    assert f"{name} received" in err


def _survivors(marker: str) -> list[int]:
    """Live processes (not zombies) whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _no_survivors(marker: str) -> None:
    deadline = time.monotonic() + 30
    while _survivors(marker):
        assert time.monotonic() < deadline, f"still running: {_survivors(marker)}"
        time.sleep(0.05)


def _script(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / SCRIPT).read_text())
    return data


def _resume_completes(root: Path) -> None:
    done = harness_proc(root, "run")
    assert done.returncode == 0, done.stderr
    assert passing(root) == ["F001"]
    assert sorted(session_commits(root).values()) == [1]
    assert git(root, "status", "--porcelain") == ""


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_a_model_call_stops_the_run_and_the_call_is_sent_again(
    tmp_path: Path, signum: int
) -> None:
    turns = good_turns(1)
    turns[0] = {**turns[0], "latency_s": 600}  # the model "thinks" until the signal comes
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    report = tmp_path / "report.json"
    proc = _start(root, report, *HARNESS)  # the signal falls inside litellm's call
    _wait_for_step(proc, "llm")
    code, err = _stop(proc, signum)
    _interrupted(report, signum, code, err)
    in_flight = [s for s in steps(root) if s.kind == "llm" and s.status == "started"]
    assert len(in_flight) == 1  # left to resume, not recorded as failed
    script = _script(root)
    script["scenes"][1]["turns"][0].pop("latency_s")
    (root / SCRIPT).write_text(json.dumps(script))
    _resume_completes(root)
    resent = [s for s in steps(root) if s.kind == "llm" and s.seq == in_flight[0].seq]
    assert [s.attempts for s in resent if s.session == 1] == [2]


def _looping(marker: str) -> str:
    """A command that runs until stopped (a background child too), unless `resumed`
    exists: then it says done."""
    return (
        "if [ -e resumed ]; then echo done; else "
        f"sleep {marker} & while :; do echo tick >> ticks; sleep 0.05; done; fi"
    )


def _command_project(root: Path, marker: str, runner: str, image: str = "") -> Path:
    turns = [turn(call("run", command=_looping(marker))), *good_turns(1)]
    if runner == "docker":
        turns = [turn(call("run", command=_looping(marker))), *finish()]
        return docker_project(root, image, check="test -e resumed", turns=turns)
    root = make_project(root, count=1, sessions={1: turns})
    toml = root / "harness.toml"
    toml.write_text(toml.read_text().replace('kind = "local"', f'kind = "{runner}"'))
    return root


@pytest.fixture(params=["local", "bwrap", pytest.param("docker", marks=pytest.mark.docker)])
def runner(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(runner kind, image): bwrap and Docker skip, saying why, where they cannot run."""
    kind: str = request.param
    if kind == "bwrap" and bwrap_version() is None:
        pytest.skip("bubblewrap is missing or cannot create a sandbox here")
    if kind == "docker":
        image: str = request.getfixturevalue("busybox_image")
        return kind, image
    return kind, ""


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_a_command_stops_every_process_of_it(
    tmp_path: Path, signum: int, runner: tuple[str, str]
) -> None:
    kind, image = runner
    marker = str(random.randrange(10**8, 10**9))
    root = _command_project(tmp_path / "p", marker, kind, image)
    init(root)
    report = tmp_path / "report.json"
    proc = _start(root, report)
    deadline = time.monotonic() + 300
    while not (root / "ticks").exists():  # the command runs
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _survivors(marker)
    code, err = _stop(proc, signum)
    _interrupted(report, signum, code, err)
    _no_survivors(marker)
    if kind == "docker":
        client = pytest.importorskip("docker").from_env()
        assert leftovers(client, root) == []
    in_flight = [s for s in steps(root) if s.kind == "tool" and s.name == "run"]
    assert [s.status for s in in_flight] == ["started"]
    (root / "resumed").write_text("")
    _resume_completes(root)
    assert [s.attempts for s in steps(root) if s.kind == "tool" and s.name == "run"] == [2]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_the_commit_leaves_it_to_the_resume(tmp_path: Path, signum: int) -> None:
    """SIGTERM or SIGHUP just before the session's `git update-ref`: no commit, the step in
    flight; the resumed run makes exactly one."""
    root = make_project(tmp_path / "p", count=1)
    init(root)
    report = tmp_path / "report.json"
    point = f"update-ref@{signal.Signals(signum).name.removeprefix('SIG')}"
    helper = [sys.executable, "-m", "tests.session.stopped_at", point]  # no litellm either
    proc = _start(root, report, *helper, str(tmp_path / "marker"), "--")
    _, err = proc.communicate(timeout=300)
    _interrupted(report, signum, proc.returncode, err)
    assert session_commits(root) == {}
    commit = [s for s in steps(root) if s.kind == "git" and s.name == "commit" and s.session]
    assert [s.status for s in commit] == ["started"]
    _resume_completes(root)


def test_the_signal_is_said_as_a_notice_of_the_run_and_quiet_means_quiet(tmp_path: Path) -> None:
    """SIGTERM during a command of `run --json --quiet`: said at once as the run's notice
    on the stream, before the run's end; on stderr, under --quiet, only the result line."""
    marker = str(random.randrange(10**8, 10**9))
    root = _command_project(tmp_path / "p", marker, "local")
    init(root)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_CRASH")}
    proc = subprocess.Popen(
        [*SCRIPTED, "-C", str(root), "run", "--json", "--quiet"],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not (root / "ticks").exists():  # the command runs
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, err
    events = [json.loads(line) for line in out.splitlines()]
    types = [e["type"] for e in events]
    said = [i for i, e in enumerate(events) if e.get("detail") == "SIGTERM received: stopping."]
    assert len(said) == 1 and events[said[0]]["type"] == "notice", events
    assert said[0] < types.index("run.ended")  # at once, not after the cleanup
    lines = err.splitlines()  # the result line only
    assert len(lines) == 1 and lines[0].startswith("harness run: interrupted (SIGTERM)"), err
    _no_survivors(marker)
