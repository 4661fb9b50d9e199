"""make_runner chooses the runner the configuration names, and says which and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from artifacts.config import HarnessConfig, RunnerConfig
from harness.errors import RunnerError
from runners import Resources, docker_support
from runners.bwrap import BubblewrapRunner, bwrap_version
from runners.factory import make_runner
from runners.local import LocalRunner
from runners.waited import WaitedRunner
from session.verify.wiring import check_runners


def test_local_kind_gives_the_local_runner(tmp_path: Path) -> None:
    runner = make_runner(RunnerConfig(kind="local", memory_mb=300), tmp_path, labels={})
    assert isinstance(runner, LocalRunner)
    assert runner.resources.memory_mb == 300
    assert "local" in runner.describe()


def test_resources_come_from_the_runner_section() -> None:
    config = RunnerConfig(memory_mb=512, cpus=1.5, pids=99, gpus=0, timeout_s=30, network=True)
    assert Resources.of(config) == Resources(
        memory_mb=512, cpus=1.5, pids=99, gpus=0, timeout_s=30, network=True
    )
    assert Resources() == Resources.of(RunnerConfig())  # the same defaults
    limits = RunnerConfig(max_memory_mb=4096, max_cpus=2.0, max_timeout_s=900, network=True)
    assert Resources.maxima(limits) == Resources(
        memory_mb=4096, cpus=2.0, timeout_s=900, network=True
    )


needs_bwrap = pytest.mark.skipif(
    bwrap_version() is None,
    reason="bubblewrap cannot run here (bwrap missing or user namespaces disabled)",
)


@needs_bwrap
def test_auto_without_docker_gives_the_bubblewrap_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    runner = make_runner(RunnerConfig(kind="auto"), tmp_path, labels={}, protected=["SPEC.md"])
    assert isinstance(runner, BubblewrapRunner) and runner.sandboxed
    assert "daemon_unreachable" in runner.describe() and "bwrap sandbox" in runner.describe()
    assert "SPEC.md" in runner.protected and ".git" in runner.protected


def test_auto_without_docker_and_without_bwrap_is_an_error_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.setattr("runners.bwrap.bwrap_version", lambda: None)
    with pytest.raises(RunnerError) as caught:
        make_runner(RunnerConfig(kind="auto"), tmp_path, labels={})
    assert caught.value.kind == "sandbox_unavailable"
    text = str(caught.value)
    assert "Docker engine cannot be reached" in text and "bubblewrap" in text
    assert 'kind = "local"' in text and "apt install bubblewrap" in text


def test_bwrap_kind_without_bwrap_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runners.bwrap.bwrap_version", lambda: None)
    with pytest.raises(RunnerError) as caught:
        make_runner(RunnerConfig(kind="bwrap"), tmp_path, labels={})
    assert caught.value.kind == "sandbox_unavailable"


def test_allow_local_is_refused_with_a_message_saying_what_to_do() -> None:
    with pytest.raises(ValueError, match=r'allow_local was removed.*kind = "local"'):
        RunnerConfig.model_validate({"kind": "auto", "allow_local": True})


def test_disk_limits_reach_the_runner(tmp_path: Path) -> None:
    runner = make_runner(RunnerConfig(kind="local", disk_mb=0, max_file_mb=7), tmp_path)
    assert isinstance(runner, LocalRunner)
    assert runner.disk_mb is None and runner.max_file_mb == 7


def test_docker_kind_never_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(RunnerError) as caught:
        make_runner(RunnerConfig(kind="docker"), tmp_path, labels={})
    assert caught.value.kind == "daemon_unreachable"


def test_auto_with_an_engine_and_the_image_gives_docker(
    docker_client: Any, busybox_image: str, project: Path
) -> None:
    config = RunnerConfig(kind="auto", image=busybox_image, memory_mb=128)
    runner = make_runner(config, project, labels={"harness.run": "r1"})
    try:
        assert runner.name == "docker" and runner.sandboxed
        assert "auto" in runner.describe() and busybox_image in runner.describe()
        assert runner.run("echo hi").stdout == "hi\n"
    finally:
        runner.close()


class _Inline:
    """Waits that run offloaded work on the caller's thread."""

    def offload(self, work: Any) -> Any:
        return work()


def test_a_checks_runner_reuses_the_docker_session_runners_engine_client(
    docker_client: Any,
    busybox_image: str,
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A runner on a check's checkout uses the session runner's engine client: no new
    client and ping (docker_support.connect) per checkout."""
    config = HarnessConfig(runner=RunnerConfig(kind="docker", image=busybox_image))
    session = make_runner(config.runner, project, labels={})
    connects: list[float] = []
    real_connect = docker_support.connect

    def counted(timeout_s: float = 30.0) -> Any:
        connects.append(timeout_s)
        return real_connect(timeout_s)

    monkeypatch.setattr(docker_support, "connect", counted)
    checkout = tmp_path / "checkout"
    checkout.mkdir(mode=0o777)
    checkout.chmod(0o777)
    try:
        for wrapped in (session, WaitedRunner(session, _Inline())):  # type: ignore[arg-type]
            check = check_runners(config, wrapped, "r1")(checkout, {})
            try:
                assert check.client is session.client  # type: ignore[attr-defined]
                assert check.run("echo checked", fresh=True).stdout == "checked\n"
            finally:
                check.close()
        assert connects == []
    finally:
        session.close()


@needs_bwrap
def test_auto_with_a_missing_image_uses_bubblewrap_and_says_why(
    docker_client: Any, project: Path
) -> None:
    config = RunnerConfig(kind="auto", image="harness-no-such-image:never")
    runner = make_runner(config, project, labels={})
    assert isinstance(runner, BubblewrapRunner)
    assert "image_missing" in runner.describe()
