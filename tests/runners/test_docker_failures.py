"""Infrastructure failures come back classified: OOM, time limit, preemption, daemon, image."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.errors import RunnerError
from runners import Resources, docker_oom, docker_support
from runners.docker_runner import DockerRunner
from tests.runners.conftest import project_containers

# A shell variable of 100 MB: the shell's own memory grows past a 64 MB limit.
ALLOCATE_100MB = 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo "allocated ${#x}"'


def _runner(project: Path, image: str, client: Any, **kwargs: Any) -> Any:

    return DockerRunner(project, image=image, client=client, **kwargs)


@pytest.mark.slow
def test_oom_in_session_container_names_the_limit_then_more_memory_passes(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    runner = _runner(project, busybox_image, docker_client, resources=Resources(memory_mb=64))
    try:
        result = runner.run(ALLOCATE_100MB)
        assert result.failure is not None, result
        assert result.failure.kind == "oom"
        assert "64 MB" in result.failure.message
        assert result.failure.limit == "memory_mb=64"
        assert "memory_mb >= 128" in result.failure.suggestion
        assert result.failure.peak_memory_mb == 64.0  # cgroup v1 max_usage, at the limit
        assert runner.session_container is None  # replaced after an OOM: memory may be held
        # The agent asks for more memory: a fresh container with 256 MB passes.
        again = runner.run(ALLOCATE_100MB, resources=Resources(memory_mb=256))
        assert again.failure is None, again
        assert again.exit_code == 0
        assert again.stdout.strip() == "allocated 100000000"
        # A plain SIGKILL in the same container is not taken for an OOM.
        killed = runner.run("kill -9 $$")
        assert killed.exit_code == 137
        assert killed.failure is None
    finally:
        runner.close()


def test_oom_in_fresh_container_reads_the_oom_killed_flag(docker_runner: Any) -> None:
    result = docker_runner.run(ALLOCATE_100MB, resources=Resources(memory_mb=64), fresh=True)
    assert result.failure is not None, result
    assert result.failure.kind == "oom"
    assert "64 MB" in result.failure.message


def _engine_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's signs of an OOM as a busy engine gives them: its ``oom`` event already
    gone from its short history of events (measured: half a second later at ~250 events/s)
    and a container's ``OOMKilled`` flag not set (the event reached the daemon after the
    exit). Two CI runs on one engine met both."""
    real_events, real_state = docker_support.container_events, docker_support.container_state

    def events(api: Any, container_id: str, actions: list[str], since: float) -> Any:
        return [e for e in real_events(api, container_id, actions, since) if e[0] != "oom"]

    def state(api: Any, container_id: str) -> Any:
        found = real_state(api, container_id)
        return None if found is None else {**found, "OOMKilled": False}

    monkeypatch.setattr(docker_support, "container_events", events)
    monkeypatch.setattr(docker_support, "container_state", state)


@pytest.mark.parametrize("where", ["host", "inside"])
@pytest.mark.slow  # 6 s waiting
def test_an_oom_reads_as_oom_when_the_engine_tells_it_late(
    docker_client: Any,
    busybox_image: str,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """The kernel's count of OOM kills in the container's cgroup says it, read from the
    host or (no host view: a remote engine) from inside the container; a plain SIGKILL
    still reads as none."""
    _engine_late(monkeypatch)
    if where == "inside":
        monkeypatch.setattr(docker_oom, "host_file", lambda pid: None)
    runner = _runner(project, busybox_image, docker_client, resources=Resources(memory_mb=64))
    try:
        session = runner.run(ALLOCATE_100MB)
        assert session.failure is not None and session.failure.kind == "oom", session
        assert session.failure.limit == "memory_mb=64"
        fresh = runner.run(ALLOCATE_100MB, fresh=True)
        assert fresh.failure is not None and fresh.failure.kind == "oom", fresh
        assert runner.run("echo back").stdout == "back\n"
        killed = runner.run("kill -9 $$")
        assert killed.exit_code == 137 and killed.failure is None, killed
        killed_fresh = runner.run("kill -9 $$", fresh=True)
        assert killed_fresh.exit_code == 137 and killed_fresh.failure is None, killed_fresh
    finally:
        runner.close()


def test_filling_a_tmpfs_past_the_limit_reads_as_oom_and_the_next_command_runs_clean(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    runner = _runner(project, busybox_image, docker_client, resources=Resources(memory_mb=64))
    try:
        result = runner.run("head -c 100000000 /dev/zero > /tmp/big")
        assert result.failure is not None and result.failure.kind == "oom", result
        assert result.attempts == 1  # an OOM is not a preemption: not retried
        assert runner.run("echo back").stdout == "back\n"  # a new session container
    finally:
        runner.close()


def test_time_limit_kills_the_command_and_its_children_quickly(session_runner: Any) -> None:
    started = time.monotonic()
    result = session_runner.run(
        "sleep 300 & sleep 301; echo never", resources=Resources(timeout_s=1)
    )
    elapsed = time.monotonic() - started
    assert result.failure is not None and result.failure.kind == "timeout", result
    assert result.exit_code is None
    assert "1 s" in result.failure.message
    assert "timeout_s >= 2" in result.failure.suggestion
    assert elapsed < 60, elapsed  # ended at its limit, not after the 300 s
    left = session_runner.run("ps -o args").stdout
    assert "sleep 300" not in left and "sleep 301" not in left, left


def test_time_limit_in_a_fresh_container(docker_runner: Any) -> None:
    started = time.monotonic()
    result = docker_runner.run("sleep 300", resources=Resources(timeout_s=1), fresh=True)
    assert result.failure is not None and result.failure.kind == "timeout", result
    assert time.monotonic() - started < 60  # ended at its limit, not after the 300 s


def _kill_when_running(client: Any, find: Any, delay: float) -> threading.Thread:
    def kill() -> None:
        deadline = time.monotonic() + 60  # generous: the container is there within a second
        while time.monotonic() < deadline:
            container_id = find()
            if container_id:
                time.sleep(delay)
                client.api.kill(container_id)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow  # 4.2 s waiting
def test_session_container_killed_from_outside_is_retried(
    docker_runner: Any, docker_client: Any
) -> None:
    killer = _kill_when_running(docker_client, lambda: docker_runner.session_container, 0.8)
    result = docker_runner.run("sleep 2; echo finished")
    killer.join()
    assert result.failure is None, result
    assert result.exit_code == 0
    assert result.stdout == "finished\n"
    assert result.attempts == 2


def test_a_container_killed_between_exec_create_and_start_is_retried(
    docker_runner: Any, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the exec's create and its start, the engine answers exit 126 with
    "cannot exec in a stopped container" as output: not the command's own code, so the
    runner asks the container's state, and runs the command again in a new container (a
    CI run met this race: the command's result read "exit code: 126", never retried)."""

    real = docker_support.run_exec
    calls: list[str] = []

    def killed_first(api: Any, container_id: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(container_id)
        if len(calls) == 1:
            docker_client.api.kill(container_id)
            docker_client.api.wait(container_id, timeout=30)
            return docker_support.ExecOutcome(
                exit_code=126,
                stdout="OCI runtime exec failed: exec failed: cannot exec in a stopped "
                "container: unknown\r\n",
                stderr="",
                timed_out=False,
                started_at=time.time(),
                duration_s=0.01,
            )
        return real(api, container_id, *args, **kwargs)

    monkeypatch.setattr(docker_support, "run_exec", killed_first)
    result = docker_runner.run("echo finished")
    assert result.failure is None and result.exit_code == 0, result
    assert result.stdout == "finished\n" and result.attempts == 2
    assert len(calls) == 2 and calls[0] != calls[1]  # the second in a new container


def test_fresh_container_killed_from_outside_is_retried(
    docker_runner: Any, docker_client: Any, project: Path
) -> None:
    def find() -> str | None:
        for container in project_containers(docker_client, project):
            if container.labels.get("harness.role") == "fresh" and container.status == "running":
                return str(container.id)
        return None

    killer = _kill_when_running(docker_client, find, 0.3)
    result = docker_runner.run("sleep 1.5; echo finished", fresh=True)
    killer.join()
    assert result.exit_code == 0, result
    assert result.stdout == "finished\n"
    assert result.attempts == 2


def test_preemption_beyond_the_budget_is_reported(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    runner = _runner(project, busybox_image, docker_client, max_attempts=1)
    try:
        killer = _kill_when_running(docker_client, lambda: runner.session_container, 0.5)
        result = runner.run("sleep 3")
        killer.join()
        assert result.failure is not None and result.failure.kind == "killed", result
        assert result.attempts == 1
        assert "rerun" in result.failure.suggestion
    finally:
        runner.close()


def test_unreachable_daemon_is_a_runner_error(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(RunnerError) as caught:
        DockerRunner(project, image="anything")
    assert caught.value.kind == "daemon_unreachable"
    assert "DOCKER_HOST" in caught.value.suggestion
    assert caught.value.exit_code == 4  # the run parks


def test_missing_image_is_a_runner_error(docker_client: Any, project: Path) -> None:
    with pytest.raises(RunnerError) as caught:
        _runner(project, "harness-no-such-image:never", docker_client)
    assert caught.value.kind == "image_missing"
    assert "harness image build" in caught.value.suggestion


def test_orphans_of_dead_harness_processes_are_removed(
    docker_client: Any, busybox_image: str, project: Path
) -> None:

    dead_pid = 2**22 + 12345  # above pid_max's default: never alive
    labels = {
        "harness.project": str(project.resolve()),
        "harness.pid": str(dead_pid),
        "harness.host": socket.gethostname(),
    }
    live = {**labels, "harness.pid": str(os.getpid())}
    orphan = docker_client.containers.create(busybox_image, ["sleep", "60"], labels=labels)
    mine = docker_client.containers.create(busybox_image, ["sleep", "60"], labels=live)
    try:
        runner = _runner(project, busybox_image, docker_client)
        assert runner.orphans_removed == [orphan.id]
        ids = {c.id for c in project_containers(docker_client, project)}
        assert orphan.id not in ids and mine.id in ids  # a live process's container stays
        runner.close()
    finally:
        mine.remove(force=True)
