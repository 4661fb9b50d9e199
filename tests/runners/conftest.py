"""Fixtures for runner tests: a project dir, a DockerRunner on the busybox test image (the
engine and the image: tests/docker_engine.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runners.docker_runner import DockerRunner


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder the container's user (1000:1000) can write."""
    root = tmp_path / "project"
    root.mkdir()
    root.chmod(0o777)  # the container runs as uid 1000; see runners/README.md
    (root / "README.md").write_text("a project\n")
    return root


def project_containers(client: Any, project: Path) -> list[Any]:
    """The project's containers; one removed while they are listed is left out (without
    ``ignore_removed`` the SDK's inspect of it raises NotFound)."""
    label = f"harness.project={project.resolve()}"
    return list(client.containers.list(all=True, filters={"label": label}, ignore_removed=True))


@pytest.fixture
def docker_runner(docker_client: Any, busybox_image: str, project: Path) -> Iterator[Any]:
    """A DockerRunner on the busybox image; asserts that close() leaves no container."""

    runner = DockerRunner(
        project,
        image=busybox_image,
        labels={"harness.run": "test-run", "harness.session": "1"},
        client=docker_client,
    )
    yield runner
    runner.close()
    assert project_containers(docker_client, project) == []
