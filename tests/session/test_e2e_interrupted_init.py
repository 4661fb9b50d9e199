"""Every interruption resumes from the command the user would type: `harness run`.

A kill inside `harness init` (at its model call, its commit) and a kill of `harness demo`
before or during its init are finished by `harness run`, paying for nothing twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.cli.demo import MARKER, SCRIPT_FILE, DemoOptions, create_project
from tests.session.scripted_child import SCRIPTED
from tests.session.support import (
    call,
    harness_out,
    harness_proc,
    harness_run,
    init_commits,
    make_project,
    passing,
    session_commits,
    turn,
)


@pytest.mark.slow(reason="kills its harness child")  # a child process, SIGKILLed in init
@pytest.mark.parametrize("where", ["llm:*#2", "artifact:support-files", "git:commit"])
def test_a_kill_during_init_is_finished_by_run(tmp_path: Path, where: str) -> None:
    root = make_project(tmp_path / "p", count=2)
    killed = harness_proc(root, "init", "--spec", str(root / "SPEC.md"), crash_in=where)
    assert killed.returncode == -9, killed.stderr
    done = harness_run(root, "run")
    assert done.returncode == 0, done.stderr
    assert "finishing the interrupted `harness init" in done.stderr
    assert init_commits(root) == 1
    assert passing(root) == ["F001", "F002"]
    assert sorted(session_commits(root).values()) == [1, 1]
    code, out = harness_out(root, "runs", "--json")
    assert code == 0
    runs = json.loads(out)
    assert [r["kind"] for r in runs] == ["init", "run"]
    assert runs[0]["outcome"] == "complete"


@pytest.mark.slow(reason="kills its harness child")  # the live init is a child process
def test_run_beside_a_live_init_says_it_still_runs_and_changes_nothing(tmp_path: Path) -> None:
    """Not "finishing the interrupted init" while that init is live in another process."""

    slow = [turn(call("read_file", path="SPEC.md"), latency_s=120)]
    root = make_project(tmp_path / "p", count=1)
    script = json.loads((root / "script.json").read_text())
    script["scenes"][0]["turns"][0] = slow[0]
    (root / "script.json").write_text(json.dumps(script))
    live = subprocess.Popen(
        [*SCRIPTED, "-C", str(root), "init", "--spec", str(root / "SPEC.md")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list((root / ".harness" / "locks").glob("*.lock")):
            assert live.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        done = harness_run(root, "run")
        assert done.returncode == 6, done.stderr
        assert "is still running (pid" in done.stderr
        assert "finishing the interrupted" not in done.stderr
        assert not (root / "feature_list.json").exists()
        assert live.poll() is None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(live.pid, signal.SIGKILL)
        live.wait()


class HeldModelServer:
    """A model server on localhost whose GET /models (init's check of the model, before
    init records anything) freezes the asking `harness init` with SIGSTOP: init is then
    held, deterministically, between its first write and its run in the journal."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.child = threading.Event()
        self.pid = 0
        held = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                assert held.child.wait(60)
                os.kill(held.pid, signal.SIGSTOP)  # the init waits on this very answer
                held.asked.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def start(self, command: list[str]) -> subprocess.Popen[bytes]:
        live = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.pid = live.pid
        self.child.set()
        return live

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow(reason="kills its harness child")  # the live init is a child process
def test_an_init_held_before_it_records_its_run_is_known_as_live_and_not_after(
    tmp_path: Path,
) -> None:
    """An init is live from its first write, not from its run in the journal: `run`,
    `status` and another `init` beside it say so (exit 6) and write nothing; once it is
    killed, its lock file blocks nobody."""

    server = HeldModelServer()
    root = make_project(tmp_path / "p", count=1, model=f'api_base = "{server.url}"')
    toml = (root / "harness.toml").read_bytes()
    live = server.start(
        [sys.executable, "-m", "harness", "-C", str(root), "init", "--spec", str(root / "SPEC.md")]
    )
    try:
        deadline = time.monotonic() + 120
        while not server.asked.wait(0.1):
            assert live.poll() is None and time.monotonic() < deadline
        assert not (root / ".harness" / "journal.db").exists()  # nothing recorded yet
        for command in (["run"], ["status"], ["init", "--spec", str(root / "SPEC.md")]):
            done = harness_run(root, *command)
            assert done.returncode == 6, (command, done.stderr)
            assert f"is still running (pid {live.pid})" in done.stderr, done.stderr
            assert "finishing the interrupted" not in done.stderr
        code, said = harness_out(root, "runs")  # nothing recorded yet: not "harness init"
        assert code == 0 and f"is still running (pid {live.pid})" in said, said
        assert not (root / "feature_list.json").exists()
        assert (root / "harness.toml").read_bytes() == toml
        assert live.poll() is None
        os.killpg(live.pid, signal.SIGKILL)
        live.wait()
        # its lock file is left, unheld: a dead init blocks nobody
        assert (root / ".harness" / "locks" / "init.lock").is_file()
        done = harness_run(root, "run")
        assert done.returncode == 2, done.stderr
        assert "harness init --spec" in done.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(live.pid, signal.SIGKILL)
        live.wait()
        server.close()


def test_a_state_folder_that_is_a_file_is_said_not_a_traceback(tmp_path: Path) -> None:
    """`.harness` a regular file: the init lock's check sees no init; `init` names the
    file it cannot write (exit 2), as it does for harness.toml."""
    root = make_project(tmp_path / "p", count=1)
    (root / ".harness").write_text("not a folder\n")
    for command, said in (
        (["run"], "harness init --spec"),
        (["status"], "not a harness project yet"),
        (["init", "--spec", str(root / "SPEC.md")], ".harness/locks/init.lock"),
    ):
        done = harness_run(root, *command)
        assert done.returncode == 2, (command, done.stderr)
        assert said in done.stderr and "internal error" not in done.stderr, done.stderr
    assert (root / ".harness").read_text() == "not a folder\n"


def test_run_on_a_project_never_initialised_says_which_command(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    done = harness_run(root, "run")
    assert done.returncode == 2
    assert "harness init --spec" in done.stderr
    assert not (root / ".harness").exists()  # the run's lock taken and its folder gone


@pytest.mark.slow
def test_a_demo_killed_in_its_init_is_finished_by_run(tmp_path: Path) -> None:

    root = tmp_path / "demo"
    # What `harness demo` does first, its init killed at the commit.
    create_project(root, DemoOptions(crash=False))
    spec = str(root / "SPEC.md")
    killed = harness_proc(root, "init", "--spec", spec, crash_in="git:commit")
    assert killed.returncode == -9, killed.stderr
    assert not (root / ".git").exists() or init_commits(root) == 0
    done = harness_run(root, "run")
    assert done.returncode == 0, done.stderr
    assert len(passing(root)) == 8 and init_commits(root) == 1


@pytest.mark.slow  # 1.6 CPU-s
def test_a_demo_killed_while_it_wrote_its_files_is_finished_by_run(tmp_path: Path) -> None:

    root = tmp_path / "demo"
    root.mkdir()
    create_project(root, DemoOptions())
    # as if killed mid-copy: the marker is there, half the files are not
    (root / SCRIPT_FILE).unlink()
    (root / "harness.toml").unlink()
    assert (root / MARKER).exists()
    done = harness_run(root, "run", "--max-sessions", "1")
    assert done.returncode in (0, 3), done.stderr
    assert init_commits(root) == 1 and (root / SCRIPT_FILE).exists()
    assert len(passing(root)) >= 1
