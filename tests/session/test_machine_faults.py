"""Runner faults that are the machine's park the run; only the agent's own declared
resources come back to the agent (issue 23).

- bubblewrap removed mid-run, and bubblewrap failing to start ("setting up uid map"):
  the run parks (exit 4, outcome `waiting`, the cause named), the step in flight, no
  session burnt; once bubblewrap is back, `harness run` resumes that step.
- a `[runner]` limit above the hard limit harness itself runs under (prlimit would fail
  for every command): the run parks naming the setting, before any model call.
- the agent asking for more than that hard limit: the agent reads why, and goes on.

bubblewrap is taken away inside a private mount namespace of the harness process only
(an overlay whiteout over /usr/bin/bwrap, or a failing program bound over it): the
machine's bwrap stays as it is for everyone else. Those tests need root, unshare and
nsenter, and skip (saying so) elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.journal import Journal
from runners.bwrap import bwrap_version
from tests.session.scripted_child import SCRIPTED  # runner faults: no litellm needed
from tests.session.support import (
    call,
    good_turns,
    harness_proc,
    init,
    make_project,
    passing,
    session_commits,
    steps,
    tool_outputs,
    turn,
)

pytestmark = pytest.mark.slow  # child harness processes
MB = 1024 * 1024
UID_MAP = "bwrap: setting up uid map: Permission denied"


def _report(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def _limited(hard_mb: int) -> list[str]:
    """A command prefix: what follows runs under a hard address-space limit of hard_mb."""
    return ["prlimit", f"--as={hard_mb * MB}:{hard_mb * MB}", "--"]


def _run(root: Path, *prefix: str, report: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_CRASH")}
    return subprocess.run(
        [*prefix, *SCRIPTED, "-C", str(root), "run", "--report", str(report)],
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_runner_memory_limit_above_harness_own_hard_limit_parks_the_run(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1, toml="")
    toml = root / "harness.toml"
    toml.write_text(toml.read_text().replace('kind = "local"', 'kind = "local"\nmemory_mb = 6000'))
    init(root)
    report = tmp_path / "report.json"
    parked = _run(root, *_limited(4000), report=report)
    assert parked.returncode == 4, parked.stderr
    data = _report(report)
    assert data["outcome"] == "waiting" and data["resumable"] is True
    assert "[runner] memory_mb = 6000 is more than the local runner can give any command" in str(
        data["detail"]
    )
    assert "hard limit of 4000" in str(data["detail"])
    assert data["tokens"] == 0  # parked at the wake's init.sh: no model call was paid for
    wake = [s for s in steps(root) if s.session == 1 and s.kind == "runner"]
    assert [s.status for s in wake] == ["started"]  # left in flight, not failed
    done = _run(root, report=report)  # the limit lifted: the same session goes on
    assert done.returncode == 0, done.stderr
    assert passing(root) == ["F001"] and sorted(session_commits(root).values()) == [1]


def test_the_agent_asking_for_more_than_the_hard_limit_reads_why(tmp_path: Path) -> None:
    turns = [
        turn(call("request_resources", memory_mb=6000, reason="big build")),
        turn(call("run", command="echo built")),
        turn(call("request_resources", memory_mb=3000, reason="what this machine grants")),
        *good_turns(1),
    ]
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    report = tmp_path / "report.json"
    done = _run(root, *_limited(4000), report=report)
    assert done.returncode == 0, done.stderr
    said = tool_outputs(root, "run")[0]
    assert "memory_mb=6000 is more than this machine can grant" in said, said
    assert "request_resources with memory_mb <= 4000" in said


# -- bubblewrap taken away from the harness process only ------------------------------------


def _bwrap_works() -> None:

    if os.geteuid() != 0:
        pytest.skip("a private mount namespace for the harness process needs root")
    if bwrap_version() is None:
        pytest.skip("bubblewrap is missing or cannot create a sandbox here")
    for tool in ("unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"])
    if probe.returncode != 0:
        pytest.skip("unshare --mount is not allowed here")


def _waiting_project(root: Path) -> Path:
    """Session 1: a command that waits for the test's `go`, then verify_feature."""
    wait = "touch waiting; while [ ! -e go ]; do sleep 0.05; done; echo went"
    turns = [turn(call("run", command=wait)), *good_turns(1)]
    root = make_project(root, count=1, sessions={1: turns})
    toml = root / "harness.toml"
    toml.write_text(toml.read_text().replace('kind = "local"', 'kind = "bwrap"'))
    return root


def _take_bwrap_away(pid: int, how: str, scratch: Path) -> None:
    """In the mount namespace of ``pid`` only: bwrap removed (an overlay whiteout over
    /usr/bin) or replaced by a program failing as bwrap does without user namespaces."""
    real = Path(shutil.which("bwrap") or "/usr/bin/bwrap").resolve()
    if how == "removed":
        upper, work = scratch / "upper", scratch / "work"
        upper.mkdir()
        work.mkdir()
        os.mknod(upper / real.name, 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
        options = f"lowerdir={real.parent},upperdir={upper},workdir={work}"
        command = ["mount", "-t", "overlay", "overlay", "-o", options, str(real.parent)]
    else:
        failing = scratch / "bwrap"
        failing.write_text(f"#!/bin/sh\necho '{UID_MAP}' >&2\nexit 1\n")
        failing.chmod(0o755)
        command = ["mount", "--bind", str(failing), str(real)]
    done = subprocess.run(["nsenter", "-t", str(pid), "-m", "--", *command], capture_output=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("how", ["removed", "failing"])
def test_bubblewrap_gone_mid_run_parks_the_run_and_the_budget_is_untouched(
    tmp_path: Path, how: str
) -> None:
    _bwrap_works()
    root = _waiting_project(tmp_path / "p")
    init(root)
    report = tmp_path / "report.json"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_CRASH")}
    private = ["unshare", "--mount", "--propagation", "private", *SCRIPTED]
    proc = subprocess.Popen(
        [*private, "-C", str(root), "run", "--report", str(report)],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not (root / "waiting").exists():  # the first command runs in the sandbox
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        _take_bwrap_away(proc.pid, how, scratch)
        (root / "go").write_text("")
        _, err = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 4, err
    data = _report(report)
    assert data["outcome"] == "waiting" and data["resumable"] is True
    detail = str(data["detail"])
    if how == "removed":
        assert "bwrap could not be started" in detail and "reinstall bubblewrap" in detail
    else:
        assert f"bubblewrap could not start a command on this machine: {UID_MAP}" in detail
    verify = [s for s in steps(root) if s.kind == "tool" and s.name == "verify_feature"]
    assert [s.status for s in verify] == ["started"]  # in flight: nothing told the model
    assert _open_sessions(root) == [1]  # parked, not closed: no session was burnt
    done = harness_proc(root, "run")  # bubblewrap is back (this process sees the real one)
    assert done.returncode == 0, done.stderr
    assert passing(root) == ["F001"] and sorted(session_commits(root).values()) == [1]
    verify = [s for s in steps(root) if s.kind == "tool" and s.name == "verify_feature"]
    assert [s.attempts for s in verify] == [2]
    # Every model call of the session was made once: the fault cost the agent nothing.
    calls = [s for s in steps(root) if s.kind == "llm" and s.session == 1]
    assert len(calls) == 6 and {s.attempts for s in calls} == {1}
    assert "uid map" not in "".join(tool_outputs(root, "verify_feature"))


def _open_sessions(root: Path) -> list[int]:

    with Journal.open_readonly(root / ".harness") as journal:
        return [s.number for s in journal.sessions() if s.status == "open"]
