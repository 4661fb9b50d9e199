"""DockerRunner with a real engine: no process of a command outlives it (runners/docker_reap.py).

Each attack leaves writers behind in the session container (a subshell, ``setsid``,
a double fork, a fast forker, SIGTERM ignored), some after killing or stopping
the wrapper shell that would end them. After the command, nothing of it runs: the
container's process list (``docker top``, from the engine) holds only the keepalive's
processes and the files the writers append to stop growing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runners import Resources
from runners import docker_reap as reap
from runners.docker_runner import DockerRunner

WRITER = "while :; do date >> beat.txt; sleep 0.05; done"
LEFTOVERS = {
    "subshell": f"({WRITER}) >/dev/null 2>&1 &",
    "setsid": f"setsid sh -c '{WRITER}' >/dev/null 2>&1 &",
    "ignores_term": f"sh -c 'trap \"\" TERM HUP INT; {WRITER}' >/dev/null 2>&1 &",
    "double_fork": f"sh -c \"sh -c '{WRITER}' &\" >/dev/null 2>&1;",
    "holds_stdout": f"sh -c '{WRITER}' &",
    # New processes all the time, at most 8 at once: an unbounded fork loop reaches the
    # pids limit under load, and busybox sh exits at its first failed fork ("can't fork"),
    # so the leftover sometimes ended itself before the runner looked (no note: correct).
    "fast_forker": "setsid sh -c 'while :; do for i in 1 2 3 4 5 6 7 8; do "
    "(date >> beat.txt) & done; wait; done' >/dev/null 2>&1 &",
}
# Ways of getting past the wrapper shell (the command's parent) before leaving for good.
ESCAPES = {
    "plain": "sleep 0.3; echo started",
    "kills_wrapper": "sleep 0.3; echo started; kill -9 $PPID",
    "terms_wrapper": "sleep 0.3; echo started; kill $PPID",
}


@pytest.fixture
def runner(docker_client: Any, busybox_image: str, project: Path) -> Iterator[DockerRunner]:
    runner = DockerRunner(project, image=busybox_image, client=docker_client)
    yield runner
    runner.close()


def _stable(path: Path, wait_s: float = 0.5) -> bool:
    before = path.read_bytes() if path.exists() else None
    time.sleep(wait_s)
    return (path.read_bytes() if path.exists() else None) == before


def _workload_processes(client: Any, container_id: str) -> list[list[str]]:
    """Rows of `docker top` not of the keepalive's uid (the command's user: 1000)."""
    listing = client.api.top(container_id, ps_args="-o pid,uid,args")
    return [row for row in listing["Processes"] if row[1] not in {"65534", "nobody"}]


@pytest.mark.parametrize("escape", sorted(ESCAPES))
@pytest.mark.parametrize("leftover", sorted(LEFTOVERS))
def test_no_process_of_a_command_outlives_it(
    session_runner: DockerRunner, docker_client: Any, leftover: str, escape: str
) -> None:
    runner = session_runner
    case = f"{leftover}-{escape}"  # the case's own folder: its writers' beat.txt
    folder = runner.root / case
    folder.mkdir()
    folder.chmod(0o777)
    result = runner.run(f"{LEFTOVERS[leftover]} {ESCAPES[escape]}", cwd=case)
    assert "started" in result.stdout, result
    assert result.duration_s < 10 and result.failure is None, result
    assert result.note == reap.NOTE  # the agent is told, in one line
    container = runner.session_container
    assert container is not None
    assert _workload_processes(docker_client, container) == []
    assert (folder / "beat.txt").exists() and _stable(folder / "beat.txt")
    after = runner.run("echo again")
    assert after.stdout == "again\n" and after.note is None, after


def test_a_command_that_leaves_nothing_gets_no_note(session_runner: DockerRunner) -> None:
    result = session_runner.run("sh -c 'echo child'; (echo sub) ; echo done")
    assert result.stdout == "child\nsub\ndone\n" and result.note is None, result


def test_a_stopped_wrapper_is_ended_by_the_time_limit(
    session_runner: DockerRunner, docker_client: Any
) -> None:
    runner = session_runner
    folder = runner.root / "stopped-wrapper"  # its own folder: its writer's beat.txt
    folder.mkdir()
    folder.chmod(0o777)
    result = runner.run(
        f"{LEFTOVERS['setsid']} sleep 0.2; kill -STOP $PPID",
        resources=Resources(timeout_s=2),
        cwd=folder.name,
    )
    assert result.failure is not None and result.failure.kind == "timeout", result
    assert runner.session_container is not None
    assert _workload_processes(docker_client, runner.session_container) == []
    assert _stable(folder / "beat.txt")


def test_a_protected_path_that_does_not_exist_stays_absent_through_the_next_command(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    runner = DockerRunner(
        project, image=busybox_image, client=docker_client, protected=["tests/conftest.py"]
    )
    planter = (
        'mkdir -p tests; setsid sh -c \'trap "" TERM; while :; do '
        "echo evil > tests/conftest.py; sleep 0.02; done' >/dev/null 2>&1 & "
        "sleep 0.2; kill -9 $PPID"
    )
    try:
        first = runner.run(planter)
        assert first.failure is not None and first.failure.kind == "sandbox", first
        assert not (project / "tests" / "conftest.py").exists()
        probe = runner.run("sleep 0.5; test -e tests/conftest.py && echo PLANTED; echo checked")
        assert probe.stdout == "checked\n" and probe.failure is None, probe
        assert not (project / "tests" / "conftest.py").exists()
    finally:
        runner.close()


def test_the_fresh_container_says_so_too(runner: DockerRunner, project: Path) -> None:
    result = runner.run(f"{LEFTOVERS['setsid']} sleep 0.2; echo started", fresh=True)
    assert result.stdout == "started\n" and result.note == reap.NOTE, result
    assert _stable(project / "beat.txt")


def test_the_host_view_and_the_engine_see_the_same_leftovers(
    session_runner: DockerRunner, docker_client: Any
) -> None:
    """Both ways of looking (the host's cgroup, the engine's top) find a process that
    bypassed the wrapper (a raw exec), and nothing once it is ended."""
    runner = session_runner
    runner.run("true")
    container = runner.session_container
    assert container is not None
    pid = int(docker_client.api.inspect_container(container)["State"]["Pid"])
    view = reap.HostView.find(pid)
    if view is None:
        pytest.skip("the engine's host is not visible from here (remote engine?)")
    assert view.leftovers() == [] and reap.leftovers_by_top(docker_client.api, container, pid) == []
    exec_id = docker_client.api.exec_create(container, ["sleep", "60"], user="1000:1000")["Id"]
    docker_client.api.exec_start(exec_id, detach=True)
    time.sleep(0.3)
    seen = view.leftovers()
    assert len(seen) == 1 and reap.leftovers_by_top(docker_client.api, container, pid) == seen
    assert reap.end_leftovers(docker_client.api, container, "1000:1000", view.leftovers) == (
        "stopped"
    )
    assert view.leftovers() == [] and reap.leftovers_by_top(docker_client.api, container, pid) == []


def test_a_runner_whose_user_is_the_usual_keepalive_uid(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    runner = DockerRunner(project, image=busybox_image, client=docker_client, user="65534:65534")
    try:
        result = runner.run(f"{LEFTOVERS['setsid']} sleep 0.2; id -u")
        assert result.stdout == "65534\n" and result.note == reap.NOTE, result
        assert runner.run("echo still").stdout == "still\n"  # the keepalive survived
        assert _stable(project / "beat.txt")
    finally:
        runner.close()


def test_where_the_host_cannot_see_the_container_the_engine_is_asked(
    docker_client: Any, busybox_image: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote engine (or a harness in another PID namespace): `top` instead of /proc."""
    monkeypatch.setattr(reap.HostView, "find", classmethod(lambda cls, pid: None))
    runner = DockerRunner(project, image=busybox_image, client=docker_client)
    try:
        result = runner.run(f"{LEFTOVERS['setsid']} {ESCAPES['kills_wrapper']}")
        assert runner._view is None and result.note == reap.NOTE, result
        assert runner.session_container is not None
        assert _workload_processes(docker_client, runner.session_container) == []
        assert _stable(project / "beat.txt")
    finally:
        runner.close()


@pytest.mark.slow  # 4.3 s waiting
def test_what_the_runners_user_cannot_end_ends_with_the_container(
    runner: DockerRunner, docker_client: Any
) -> None:
    """The last resort: a task the runner's user cannot kill (here a root exec from
    outside) makes the runner replace the session container before it returns."""
    runner.run("true")
    container = runner.session_container
    assert container is not None
    exec_id = docker_client.api.exec_create(container, ["sleep", "60"], user="0")["Id"]
    docker_client.api.exec_start(exec_id, detach=True)
    deadline = time.monotonic() + 60  # until the engine says the root task runs
    while not docker_client.api.exec_inspect(exec_id)["Running"]:
        assert time.monotonic() < deadline, "the root exec never started"
        time.sleep(0.05)
    result = runner.run("echo hi")
    assert result.stdout == "hi\n" and result.note is not None, result
    assert "restarted" in result.note
    assert runner.session_container is None
    assert docker_client.containers.list(all=True, filters={"id": container}) == []
    assert runner.run("echo again").stdout == "again\n"
