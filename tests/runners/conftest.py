"""Fixtures for runner tests: a Docker engine, an offline busybox image, a project dir."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TEST_IMAGE = "harness-test-busybox"
BUSYBOX = Path("/bin/busybox")
DOCKERFILE = (
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client for the local engine; skips the test when there is none."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as error:
        pytest.skip(f"no Docker engine: {error}")
    yield client
    client.close()


def build_busybox_image(client: Any, workdir: Path) -> str:
    """Build the test image from scratch plus a static busybox (no pull); cached by tag."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(TEST_IMAGE)
        return TEST_IMAGE
    except ImageNotFound:
        pass
    if not BUSYBOX.is_file():
        pytest.skip("no static busybox at /bin/busybox to build the test image")
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, workdir / "busybox")
    (workdir / "Dockerfile").write_text(DOCKERFILE)
    client.images.build(path=str(workdir), tag=TEST_IMAGE, rm=True, pull=False)
    return TEST_IMAGE


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_busybox_image(docker_client, tmp_path_factory.mktemp("busybox-image"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder the container's user (1000:1000) can write."""
    root = tmp_path / "project"
    root.mkdir()
    root.chmod(0o777)  # the container runs as uid 1000; see runners/README.md
    (root / "README.md").write_text("a project\n")
    return root


def project_containers(client: Any, project: Path) -> list[Any]:
    return list(
        client.containers.list(all=True, filters={"label": f"harness.project={project.resolve()}"})
    )


@pytest.fixture
def docker_runner(docker_client: Any, busybox_image: str, project: Path) -> Iterator[Any]:
    """A DockerRunner on the busybox image; asserts that close() leaves no container."""
    from runners.docker_runner import DockerRunner

    runner = DockerRunner(
        project,
        image=busybox_image,
        labels={"harness.run": "test-run", "harness.session": "1"},
        client=docker_client,
    )
    yield runner
    runner.close()
    assert project_containers(docker_client, project) == []
