"""The Docker engine for the tests (a plugin of the root conftest): a client, and the busybox
image built offline once per test process.

Every test that reaches the engine carries the ``docker`` marker, so ``pytest -m "not
docker"`` runs nothing that needs one. A test whose fixtures name ``docker_client`` (or one
built on it) gets the marker at collection (``pytest_collection_modifyitems``
below); one that asks for the engine later (``request.getfixturevalue``, a
parametrized runner kind) must carry it itself: ``docker_client`` fails it, naming the
marker, otherwise.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENGINE_FIXTURE = "docker_client"
TEST_IMAGE = "harness-test-busybox"
BUSYBOX = Path("/bin/busybox")
DOCKERFILE = (
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give the ``docker`` marker to every test whose fixtures reach the engine."""
    for item in items:
        if ENGINE_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """The test process's client of the local engine; skips the test when there is none."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as error:
        pytest.skip(f"no Docker engine: {error}")
    yield client
    client.close()


@pytest.fixture
def docker_client(request: pytest.FixtureRequest, docker_engine: Any) -> Any:
    """The engine's client, for a test marked ``docker`` only."""
    if request.node.get_closest_marker("docker") is None:
        pytest.fail(
            f"{request.node.nodeid} uses the Docker engine without the docker marker: "
            "add @pytest.mark.docker (or pytest.param(..., marks=pytest.mark.docker))",
            pytrace=False,
        )
    return docker_engine


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
def busybox_tag(docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_busybox_image(docker_engine, tmp_path_factory.mktemp("busybox-image"))


@pytest.fixture
def busybox_image(docker_client: Any, busybox_tag: str) -> str:
    """The busybox test image's tag (built once per test process)."""
    return busybox_tag
