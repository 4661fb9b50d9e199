"""Fixtures for runner tests: a project dir, a DockerRunner on the busybox test image (the
engine and the image: tests/docker_engine.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runners.docker_runner import DockerRunner


def make_project(root: Path) -> Path:
    """A project folder at ``root`` the container's user (1000:1000) can write."""
    root.mkdir()
    root.chmod(0o777)  # the container runs as uid 1000; see runners/README.md
    (root / "README.md").write_text("a project\n")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder the container's user (1000:1000) can write."""
    return make_project(tmp_path / "project")


def project_containers(client: Any, project: Path) -> list[Any]:
    """The project's containers; one removed while they are listed is left out (without
    ``ignore_removed`` the SDK's inspect of it raises NotFound)."""
    label = f"harness.project={project.resolve()}"
    return list(client.containers.list(all=True, filters={"label": label}, ignore_removed=True))


@contextlib.contextmanager
def busybox_runner(root: Path, image: str, client: Any) -> Iterator[DockerRunner]:
    """A DockerRunner of ``root`` on the busybox ``image``; asserts that close() leaves no
    container."""
    runner = DockerRunner(
        root,
        image=image,
        labels={"harness.run": "test-run", "harness.session": "1"},
        client=client,
    )
    yield runner
    runner.close()
    assert project_containers(client, root) == []


@pytest.fixture
def docker_runner(docker_client: Any, busybox_image: str, project: Path) -> Iterator[Any]:
    """A DockerRunner on the busybox image; asserts that close() leaves no container."""
    with busybox_runner(project, busybox_image, docker_client) as runner:
        yield runner


@pytest.fixture(scope="session")
def _shared_session(
    docker_engine: Any, busybox_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerRunner]:
    """One DockerRunner on the busybox image for the test process (each xdist worker): its
    session container serves the cases of every module in turn, as a session's container
    serves command after command; close() leaves no container."""
    root = make_project(tmp_path_factory.mktemp("shared-session") / "project")
    with busybox_runner(root, busybox_tag, docker_engine) as runner:
        yield runner


@pytest.fixture
def session_runner(docker_client: Any, _shared_session: DockerRunner) -> DockerRunner:
    """The test process's shared runner (``docker_client``: the test is marked docker). For
    cases that neither kill, replace nor stop its container and leave it as they found it
    (each its own folder, if it writes)."""
    return _shared_session
