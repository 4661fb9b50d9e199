"""Issue 5's proof at the session level: real `harness run`s on tiny projects whose
harness.toml says `[runner] kind = "docker"`, a scripted model, and a real Docker engine
(skipped with a reason when there is none). The model reads infrastructure failures as
tool results (read back here from the journal) and acts on them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git
from tests.session.docker_support import (
    ALLOCATE_100MB,
    NO_BEFORE,
    Preemptor,
    docker_project,
    finish,
    leftovers,
)
from tests.session.support import (
    call,
    feature_list,
    harness,
    harness_out,
    harness_proc,
    init,
    passing,
    steps,
    tool_outputs,
    turn,
)


@pytest.fixture
def engine(docker_client: Any, busybox_image: str) -> tuple[Any, str]:
    """The engine's client and the busybox test image."""
    return docker_client, busybox_image


def run_clean(client: Any, root: Path, *args: str) -> int:
    """`harness run --unattended` in this process; no container of the project is left."""
    code = harness(root, "run", "--unattended", *args)
    assert leftovers(client, root) == []
    return code


@pytest.mark.slow
def test_oom_names_the_limit_then_more_memory_passes(
    engine: tuple[Any, str], tmp_path: Path
) -> None:
    client, image = engine
    turns = [
        turn(call("verify_feature", feature="F001")),
        turn(call("request_resources", memory_mb=256, reason="the check needs ~100 MB")),
        *finish(),
    ]
    root = docker_project(
        tmp_path / "p",
        image,
        check=ALLOCATE_100MB,
        turns=turns,
        runner="memory_mb = 64\n",
        extra=NO_BEFORE,
    )
    init(root)
    assert run_clean(client, root) == 0

    verify = tool_outputs(root, "verify_feature")
    assert len(verify) == 2
    assert "INFRASTRUCTURE FAILURE (oom)" in verify[0]
    assert "64 MB" in verify[0]
    assert "request_resources" in verify[0]  # the suggestion names the way out
    assert "F001 PASSES" in verify[1] and "allocated 100000000" in verify[1]
    granted = tool_outputs(root, "request_resources")
    assert len(granted) == 1 and "'memory_mb': 256" in granted[0]
    (feature,) = feature_list(root)["features"]
    assert feature["passes"] is True
    assert feature["evidence"]["exit_code"] == 0
    assert feature["evidence"]["command"] == ALLOCATE_100MB
    assert feature["evidence"]["verification"] in tool_outputs(root, "mark_passing")[0]


@pytest.mark.slow  # a Docker session: init and a run on the engine
def test_time_limit_gives_a_timeout_promptly_and_the_session_goes_on(
    engine: tuple[Any, str], tmp_path: Path
) -> None:
    client, image = engine
    turns = [
        turn(call("run", command="sleep 600", timeout_s=1)),
        turn(call("write_file", path="done.txt", content="done\n")),
        *finish(),
    ]
    root = docker_project(tmp_path / "p", image, check="test -f done.txt", turns=turns)
    init(root)
    started = time.monotonic()
    assert run_clean(client, root) == 0
    elapsed = time.monotonic() - started
    # The whole run (a harness process, a container, the checks) on a loaded machine stays
    # far below the command's own 600 s: only the 1 s limit can have ended it.
    assert elapsed < 300, f"the run took {elapsed:.1f}s: the 1 s limit did not stop `sleep 600`"

    (ran,) = tool_outputs(root, "run")
    assert "INFRASTRUCTURE FAILURE (timeout)" in ran
    assert "time limit of 1 s" in ran and "exit code: None" in ran
    assert passing(root) == ["F001"]


@pytest.mark.slow
def test_a_container_killed_mid_command_is_retried_and_the_session_goes_on(
    engine: tuple[Any, str], tmp_path: Path
) -> None:
    client, image = engine
    turns = [
        turn(call("run", command="sleep 3; echo done > done.txt; echo done")),
        *finish(),
    ]
    root = docker_project(tmp_path / "p", image, check="test -f done.txt", turns=turns)
    init(root)
    preemptor = Preemptor(client, root, "sleep 3")
    preemptor.start()
    try:
        assert run_clean(client, root) == 0
    finally:
        preemptor.stop()
    assert preemptor.killed is not None, "the session container was never seen running sleep 3"

    (ran,) = tool_outputs(root, "run")
    assert "attempts: 2 (the runner retried after a preemption)" in ran
    assert "exit code: 0" in ran and "--- stdout ---\ndone" in ran
    assert "INFRASTRUCTURE FAILURE" not in ran
    assert passing(root) == ["F001"]


@pytest.mark.slow  # a Docker session: a parked run, then a run on the engine
def test_an_unreachable_daemon_parks_the_run_losing_nothing_then_it_finishes(
    engine: tuple[Any, str], tmp_path: Path
) -> None:
    client, image = engine
    turns = [turn(call("write_file", path="done.txt", content="done\n")), *finish()]
    root = docker_project(tmp_path / "p", image, check="test -f done.txt", turns=turns)
    init(root)
    before = (root / "feature_list.json").read_bytes()
    journal_steps = len(steps(root))
    tree = git(root, "status", "--porcelain")

    down = harness_proc(
        root, "run", "--unattended", env={"DOCKER_HOST": "unix:///nonexistent.sock"}
    )
    assert down.returncode == 4, down.stderr
    assert "Traceback" not in down.stderr + down.stdout
    assert "waiting: the Docker engine cannot be reached" in down.stderr, down.stderr
    assert "DOCKER_HOST" in down.stderr  # what to check, in plain words
    assert (root / "feature_list.json").read_bytes() == before
    assert len(steps(root)) == journal_steps  # the journal opens and holds what it held
    assert git(root, "status", "--porcelain") == tree
    assert leftovers(client, root) == []

    assert run_clean(client, root) == 0
    assert passing(root) == ["F001"]


@pytest.mark.slow
def test_resources_above_the_maxima_park_for_approval_then_the_run_finishes(
    engine: tuple[Any, str], tmp_path: Path
) -> None:
    client, image = engine
    turns = [
        turn(call("verify_feature", feature="F001")),
        turn(call("request_resources", memory_mb=256, reason="the check needs ~100 MB")),
        *finish(),
    ]
    root = docker_project(
        tmp_path / "p",
        image,
        check=ALLOCATE_100MB,
        turns=turns,
        runner="memory_mb = 64\nmax_memory_mb = 128\n",
        extra=NO_BEFORE,
    )
    init(root)
    assert run_clean(client, root) == 4
    assert passing(root) == []
    code, out = harness_out(root, "questions")
    assert code == 0 and "q1" in out and "memory_mb" in out, out

    assert harness(root, "approve", "q1") == 0
    assert run_clean(client, root) == 0
    verify = tool_outputs(root, "verify_feature")
    assert "INFRASTRUCTURE FAILURE (oom)" in verify[0] and "F001 PASSES" in verify[-1]
    assert passing(root) == ["F001"]


@pytest.mark.slow  # a Docker session: init and a run on the engine
def test_inside_the_container_as_the_agent_sees_it(engine: tuple[Any, str], tmp_path: Path) -> None:
    client, image = engine
    probe = (
        "echo '== net'; cat /proc/net/dev; "
        "echo '== cap'; grep CapEff /proc/self/status; "
        "echo '== uid'; id -u; "
        "echo '== rootfs'; (touch /probe 2>/dev/null && echo writable) || echo read-only; "
        "echo '== socket'; (test -e /var/run/docker.sock || test -e /run/docker.sock) "
        "&& echo present || echo absent; "
        "echo '== workspace'; pwd; ls -a; "
        # fs type, its root, the mount point, the options, for each mount
        'echo \'== mounts\'; awk \'{split($0, a, " - "); split(a[2], b, " "); '
        "print b[1], $4, $5, $6}' /proc/self/mountinfo"
    )
    turns = [turn(call("run", command=probe)), *finish()]
    root = docker_project(
        tmp_path / "p",
        image,
        check="test -f host_made_this.txt",
        turns=turns,
        files={"host_made_this.txt": "from the host\n"},
        extra=NO_BEFORE,
    )
    init(root)
    assert run_clean(client, root) == 0

    (seen,) = tool_outputs(root, "run")
    section = sections(seen)
    interfaces = [line.split(":")[0].strip() for line in section["net"] if ":" in line]
    assert interfaces == ["lo"], section["net"]
    assert section["cap"] == ["CapEff:\t0000000000000000"]
    assert section["uid"] != ["0"] and section["uid"][0].isdigit()
    assert section["rootfs"] == ["read-only"]
    assert section["socket"] == ["absent"]
    assert section["workspace"][0] == "/workspace"
    assert "host_made_this.txt" in section["workspace"] and "SPEC.md" in section["workspace"]
    mounts = [line.split() for line in section["mounts"]]
    (workspace,) = [m for m in mounts if m[2] == "/workspace"]
    assert str(root.resolve()).endswith(workspace[1]) and workspace[3].startswith("rw")
    # The harness's state is bound read-only over the workspace.
    protected = {m[2]: m[3] for m in mounts if m[2].startswith("/workspace/")}
    assert set(protected) == {
        "/workspace/.git",
        "/workspace/.harness",
        "/workspace/feature_list.json",
    }
    assert all(options.startswith("ro") for options in protected.values()), protected
    # Any other mount from a host filesystem is a read-only file Docker itself manages.
    host = [m for m in mounts if m[0] not in VIRTUAL_FS and not m[2].startswith("/workspace")]
    assert host and all(m[2] in DOCKER_FILES and m[3].startswith("ro") for m in host), host
    assert not [m for m in mounts if "docker.sock" in m[1] + m[2]]
    assert "(last " not in seen  # the whole output was read
    assert passing(root) == ["F001"]


VIRTUAL_FS = {"overlay", "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"}
DOCKER_FILES = {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/sbin/docker-init"}


def sections(output: str) -> dict[str, list[str]]:
    """The probe's output split at its `== name` lines."""
    found: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return found


@pytest.mark.slow
def test_an_engine_refusing_the_run_s_own_resources_parks_the_run(
    engine: tuple[Any, str], tmp_path: Path
) -> None:
    """Issue 26: the engine refusing what harness.toml asks for (here more CPUs than the
    machine has) is the machine's fault: the run parks naming it (exit 4), the agent never
    reads it, its model call is not paid again, and after the fix the run goes on."""
    client, image = engine
    root = docker_project(tmp_path / "p", image, check="true", turns=finish(), extra=NO_BEFORE)
    init(root)
    toml = root / "harness.toml"
    fine = toml.read_text()
    cpus = (os.cpu_count() or 1) * 2 + 1
    limits = f'kind = "docker"\ncpus = {cpus}\nmax_cpus = {cpus}'
    toml.write_text(fine.replace('kind = "docker"', limits))
    path = tmp_path / "report.json"
    assert harness(root, "run", "--unattended", "--report", str(path)) == 4
    report = json.loads(path.read_text())
    assert report["outcome"] == "waiting" and report["resumable"] is True
    assert "refused a container with the run's own resources" in report["detail"]
    assert "Range of CPUs" in report["detail"]
    assert leftovers(client, root) == []
    assert passing(root) == []

    toml.write_text(fine)
    assert run_clean(client, root) == 0
    assert passing(root) == ["F001"]
    assert not any("refused" in text for text in tool_outputs(root, "verify_feature"))
    models = [s for s in steps(root) if s.kind == "llm" and s.session > 0]
    assert models and all(s.attempts == 1 for s in models), models
