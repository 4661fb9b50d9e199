"""DockerRunner with a real engine: protected paths, disk limits, stop() before writeback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runners.disk import RECOUNT_EVERY
from runners.docker_runner import DockerRunner
from tests.runners.conftest import make_project, project_containers


@pytest.fixture
def state(project: Path) -> Path:
    """The harness's state and a protected acceptance folder, all writable by uid 1000."""
    return make_state(project)


def make_state(project: Path) -> Path:
    """``project`` with the harness's state and a protected acceptance folder, all
    writable by uid 1000."""
    (project / ".git" / "hooks").mkdir(parents=True)
    (project / ".git" / "config").write_text("[core]\n")
    (project / ".harness").mkdir()
    (project / ".harness" / "journal.db").write_bytes(b"journal")
    (project / "feature_list.json").write_text('{"passes": false}\n')
    (project / "tests" / "acceptance").mkdir(parents=True)
    (project / "tests" / "acceptance" / "test_ok.py").write_text("assert True\n")
    for path in [project, *project.rglob("*")]:
        path.chmod(0o777)  # so only the read-only binds can stop the container's user
    return project


def _guarded(root: Path, image: str, client: Any) -> Iterator[DockerRunner]:
    runner = DockerRunner(
        root,
        image=image,
        client=client,
        protected=["tests/acceptance"],
        max_file_mb=5,
        disk_mb=20,
    )
    yield runner
    runner.close()
    assert project_containers(client, root) == []


@pytest.fixture
def runner(docker_client: Any, busybox_image: str, state: Path) -> Iterator[DockerRunner]:
    yield from _guarded(state, busybox_image, docker_client)


@pytest.fixture(scope="module")
def _attacked(
    docker_engine: Any, busybox_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerRunner]:
    """One runner on one state for the attacks on protected paths: each attack fails and
    its case asserts the whole state unchanged after it, so each case starts from the
    state the others saw (one that broke in fails there); its session container serves
    them all, as a session's serves its commands. close() leaves no container."""
    root = make_state(make_project(tmp_path_factory.mktemp("protect") / "project"))
    yield from _guarded(root, busybox_tag, docker_engine)


@pytest.fixture
def attacked(docker_client: Any, _attacked: DockerRunner) -> DockerRunner:
    """The module's shared runner (``docker_client``: the test is marked docker)."""
    return _attacked


def _stable(path: Path, wait_s: float = 0.6) -> bool:
    before = path.read_bytes() if path.exists() else None
    time.sleep(wait_s)
    return (path.read_bytes() if path.exists() else None) == before


@pytest.mark.parametrize("fresh", [False, True])
@pytest.mark.parametrize(
    "attack",
    [
        "echo forged > feature_list.json",
        "mv feature_list.json f2",
        "rm -f feature_list.json",
        "mv .git g2",
        "rm -rf .git",
        "echo 'touch /tmp/owned' > .git/hooks/pre-commit",
        "printf '[core]\\n fsmonitor = evil\\n' >> .git/config",
        "echo forged > .harness/journal.db",
        "mv .harness h2",
        "echo weak > tests/acceptance/test_ok.py",
        "mv tests tests2",
        "mv tests/acceptance tests/moved",
    ],
)
def test_protected_paths_cannot_be_changed_renamed_or_replaced(
    attacked: DockerRunner, attack: str, fresh: bool
) -> None:
    state = attacked.root
    result = attacked.run(f"{attack} && echo BROKE", fresh=fresh)
    assert "BROKE" not in result.stdout, result.stderr
    assert (state / "feature_list.json").read_text() == '{"passes": false}\n'
    assert (state / ".git" / "config").read_text() == "[core]\n"
    assert not (state / ".git" / "hooks" / "pre-commit").exists()
    assert (state / ".harness" / "journal.db").read_bytes() == b"journal"
    assert (state / "tests" / "acceptance" / "test_ok.py").read_text() == "assert True\n"
    assert not (state / "tests2").exists() and not (state / "f2").exists()


def test_the_rest_of_the_project_stays_writable(attacked: DockerRunner) -> None:
    state = attacked.root  # the attacks' runner: the same guards, the same container
    result = attacked.run("echo made > tests/new.txt && mkdir src && echo x > src/a && echo ok")
    assert result.stdout == "ok\n", result.stderr
    assert (state / "tests" / "new.txt").read_text() == "made\n"


def test_the_workload_sees_the_feature_list_the_harness_wrote(
    runner: DockerRunner, state: Path
) -> None:
    assert runner.run("cat feature_list.json").stdout == '{"passes": false}\n'
    staged = state / "feature_list.json.tmp"
    staged.write_text('{"passes": true}\n')
    staged.replace(state / "feature_list.json")  # how the harness writes it (atomic rename)
    assert runner.run("cat feature_list.json").stdout == '{"passes": true}\n'
    assert runner.run("echo forged > feature_list.json && echo BROKE").stdout == ""


def test_a_50_gb_sparse_file_is_a_disk_failure(runner: DockerRunner, state: Path) -> None:
    result = runner.run("truncate -s 50G big.bin; echo done")
    assert result.failure is not None and result.failure.kind == "disk", result
    assert "5 MB" in result.failure.message
    big = state / "big.bin"
    assert not big.exists() or big.stat().st_size <= 5 << 20


def test_the_workspace_budget_is_a_disk_failure(runner: DockerRunner) -> None:
    for name in "abcde":
        last = runner.run(f"dd if=/dev/zero of={name}.bin bs=1M count=4 2>/dev/null")
    # The check after a command counts the workspace when the file system lost space, and
    # in any case every RECOUNT_EVERY checks (other programs freeing space meanwhile can
    # hide the growth from the first). What the agent is promised: the failure by then.
    for _ in range(RECOUNT_EVERY):
        if last.failure is not None:
            break
        last = runner.run("true")
    assert last.failure is not None and last.failure.kind == "disk"
    assert last.failure.limit == "disk_mb=20"


def test_stop_ends_every_process_before_writeback(
    runner: DockerRunner, docker_client: Any, state: Path
) -> None:
    result = runner.run(
        "(while :; do date >> beat.txt; sleep 0.05; done) >/dev/null 2>&1 & "
        "setsid sh -c 'while :; do date >> beat2.txt; sleep 0.05; done' >/dev/null 2>&1 & "
        "sleep 0.3; echo started"
    )
    assert result.stdout == "started\n"
    # No writer outlives the command (tests/runners/test_docker_leftovers.py has the rest)...
    assert _stable(state / "beat.txt") and _stable(state / "beat2.txt")
    runner.stop()  # ...and stop() removes the session's containers before writeback
    assert project_containers(docker_client, state) == []
    assert runner.run("echo again").stdout == "again\n"  # a new session container


def test_a_protected_path_that_does_not_exist_cannot_be_planted(
    docker_client: Any, busybox_image: str, state: Path
) -> None:
    runner = DockerRunner(
        state, image=busybox_image, client=docker_client, protected=["tests/conftest.py"]
    )
    try:
        result = runner.run("echo evil > tests/conftest.py; echo ok")
        assert result.failure is not None and result.failure.kind == "sandbox"
        assert "tests/conftest.py" in result.failure.message
        assert not (state / "tests" / "conftest.py").exists()
    finally:
        runner.close()
