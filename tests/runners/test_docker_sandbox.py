"""Inside the container: what a command can and cannot see or do."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.errors import RunnerError
from runners import Resources
from runners.docker_runner import DockerRunner
from tests.runners.conftest import project_containers


def test_only_loopback_network(session_runner: Any) -> None:
    result = session_runner.run("cat /proc/net/dev")
    assert result.exit_code == 0, result
    interfaces = [line.split(":")[0].strip() for line in result.stdout.splitlines()[2:]]
    assert interfaces == ["lo"]


def test_no_capabilities_and_no_new_privileges(session_runner: Any) -> None:
    result = session_runner.run("cat /proc/self/status")
    fields = dict(line.split(":\t", 1) for line in result.stdout.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["CapPrm"].strip() == "0000000000000000"
    assert fields["CapBnd"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"


def test_user_is_not_root(session_runner: Any) -> None:
    result = session_runner.run("id -u; id -g")
    assert result.stdout.split() == ["1000", "1000"]


def test_root_filesystem_is_read_only_but_tmp_and_home_are_writable(session_runner: Any) -> None:
    result = session_runner.run("touch /x")
    assert result.exit_code != 0
    assert "Read-only file system" in result.stderr
    result = session_runner.run('touch /tmp/x "$HOME/y" && echo ok')
    assert result.stdout.strip() == "ok", result


def test_no_docker_socket(session_runner: Any) -> None:
    result = session_runner.run(
        "ls /var/run/docker.sock /run/docker.sock 2>&1; grep -cF /docker.sock /proc/self/mountinfo"
    )
    assert "No such file" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "0"


def test_workspace_is_the_project_and_only_the_project(session_runner: Any) -> None:
    docker_runner, project = session_runner, session_runner.root
    (project / "from_host.txt").write_text("hello from the host\n")
    result = docker_runner.run("pwd; cat from_host.txt; echo written > from_container.txt")
    assert result.stdout.splitlines() == ["/workspace", "hello from the host"]
    assert (project / "from_container.txt").read_text() == "written\n"
    # Every mount from the host's disks: only the project, plus the engine's own files.
    mounts = docker_runner.run("cat /proc/self/mountinfo").stdout.splitlines()
    host_mounts = {}
    for line in mounts:
        fields = line.split()
        source_type = line.split(" - ")[1].split()[0]
        if source_type not in ("overlay", "proc", "tmpfs", "devpts", "sysfs", "cgroup", "mqueue"):
            host_mounts[fields[4]] = (fields[3], fields[5])
    assert host_mounts.pop("/workspace")[0] == str(project.resolve())
    engine_files = {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/sbin/docker-init"}
    assert set(host_mounts) <= engine_files, host_mounts
    for root, options in host_mounts.values():
        assert options.startswith("ro"), (root, options)
        assert root.startswith(("/var/lib/docker/", "/usr/")), root


def test_cwd_outside_the_project_is_refused(session_runner: Any) -> None:

    with pytest.raises(ValueError, match="outside the project"):
        session_runner.run("true", cwd="../..")


def test_session_container_is_reused_and_labelled(session_runner: Any, docker_client: Any) -> None:
    docker_runner = session_runner
    docker_runner.run("true")
    first = docker_runner.session_container
    docker_runner.run("true")
    assert docker_runner.session_container == first
    labels = docker_client.containers.get(first).labels
    assert labels["harness.run"] == "test-run"
    assert labels["harness.session"] == "1"
    assert labels["harness.project"] == str(docker_runner.root)
    assert labels["harness.role"] == "session"


def test_fresh_container_gets_declared_resources(docker_runner: Any) -> None:
    wanted = Resources(memory_mb=96, cpus=0.5, pids=64, timeout_s=30)
    result = docker_runner.run(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes "
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
        "/sys/fs/cgroup/pids/pids.max",
        resources=wanted,
    )
    assert result.exit_code == 0, result
    memory, memswap, quota, period, pids = (int(x) for x in result.stdout.split())
    assert memory == memswap == 96 * 1024 * 1024  # no swap beyond the limit
    assert quota / period == 0.5
    assert pids == 64
    assert docker_runner.session_container is None  # a different shape: a fresh container


def test_setup_phase_has_network_and_agent_phase_has_none(session_runner: Any) -> None:
    setup = session_runner.run("cat /proc/net/dev", phase="setup")
    agent = session_runner.run("cat /proc/net/dev", phase="agent")
    assert "eth0" in setup.stdout, setup
    assert "eth0" not in agent.stdout


def test_gpus_the_engine_lacks_are_a_sandbox_failure(docker_runner: Any) -> None:
    result = docker_runner.run("true", resources=Resources(gpus=1))
    if result.failure is None:
        pytest.skip("this engine has GPUs")
    assert result.failure.kind == "sandbox"
    assert "gpus=0" in result.failure.suggestion


# More CPUs than any engine here has: it refuses the container ("Range of CPUs is from
# 0.01 to N"), a real refusal that is nobody's fault but the configuration's.
TOO_MANY_CPUS = float((os.cpu_count() or 1) * 2 + 1)


def test_a_refusal_of_the_run_s_own_resources_is_the_machine_s_not_the_agent_s(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    """Issue 26: the engine refusing what the run itself asks for (its network plumbing,
    image store, or harness.toml's [runner] resources) parks the run; it is never handed
    to the agent as "request fewer resources"."""

    runner = DockerRunner(
        project,
        image=busybox_image,
        resources=Resources(cpus=TOO_MANY_CPUS),
        labels={"harness.run": "test-run", "harness.session": "1"},
        client=docker_client,
    )
    try:
        for fresh in (False, True):  # the session container, then a fresh one (checks)
            with pytest.raises(RunnerError) as refused:
                runner.run("true", fresh=fresh)
            assert refused.value.kind == "engine_refused"
            assert "Range of CPUs" in str(refused.value)
            assert "not the agent's work" in str(refused.value)
    finally:
        runner.close()
    assert project_containers(docker_client, project) == []


def test_a_refusal_of_resources_the_agent_declared_is_the_agent_s(session_runner: Any) -> None:
    result = session_runner.run("true", resources=Resources(cpus=TOO_MANY_CPUS))
    assert result.failure is not None and result.failure.kind == "sandbox"
    assert "Range of CPUs" in result.failure.message
    assert "request fewer or other resources" in result.failure.suggestion
    assert session_runner.run("echo ok").stdout == "ok\n"  # the run's own still work


def test_an_engine_fault_beside_declared_resources_parks_the_run(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    """Issue 26: the engine refusing a container for a cause of its own (here the image has
    no such user: like a missing bridge or a broken image store, the machine's) parks the
    run even when the agent declared resources; it never reads "request fewer resources"."""

    runner = DockerRunner(
        project,
        image=busybox_image,
        user="harness-no-such-user",
        labels={"harness.run": "test-run", "harness.session": "1"},
        client=docker_client,
    )
    try:
        for fresh in (False, True):  # the session container, then a fresh one (checks)
            with pytest.raises(RunnerError) as refused:
                runner.run("true", resources=Resources(cpus=0.5), fresh=fresh)
            assert refused.value.kind == "engine_refused"
            # The engine's words name the user (runc cannot mount the tmpfs it would own).
            assert "harness-no-such-user" in str(refused.value)
            assert "none of the resources the agent declared" in str(refused.value)
    finally:
        runner.close()
    assert project_containers(docker_client, project) == []
