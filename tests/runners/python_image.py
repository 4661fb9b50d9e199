"""A Docker test image with Python, built offline from this machine's own interpreter.

Nothing can be pulled here, so the image is `FROM scratch` plus the host's Debian
``/usr/bin/python3.X``, its standard library (without its tests, tkinter, idle and the
build config), the shared libraries it links and a static busybox for the shell. Tests
that need Python inside a container (the `$HOME` `.pth` attack) use it; they skip, saying
why, where the host has no such interpreter or busybox.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.docker_engine import BUSYBOX

PYTHON_IMAGE = "harness-test-python"
VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
HOST_PYTHON = Path("/usr/bin") / VERSION
STDLIB = Path("/usr/lib") / VERSION
LEFT_OUT = ("test", "idlelib", "tkinter", "lib2to3", "ensurepip", "pydoc_data", "turtledemo")
DOCKERFILE = (
    "FROM scratch\nCOPY rootfs/ /\n"
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    'ENV PATH="/usr/bin:/bin"\n'
)


def _libraries(binary: Path) -> list[Path]:
    """The shared libraries ``binary`` loads (from ldd), the loader included."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        for part in parts:
            if part.startswith("/") and Path(part).exists():
                found.append(Path(part))
    return found


def build_python_image(client: Any, workdir: Path) -> str:
    """Build (once; cached by tag) the image; skips where the host cannot provide it."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(PYTHON_IMAGE)
        return PYTHON_IMAGE
    except ImageNotFound:
        pass
    if not HOST_PYTHON.is_file() or not STDLIB.is_dir() or not BUSYBOX.is_file():
        pytest.skip(f"no {HOST_PYTHON}, {STDLIB} or {BUSYBOX} to build a Python test image")
    rootfs = workdir / "rootfs"
    (rootfs / "usr/bin").mkdir(parents=True)
    (rootfs / "bin").mkdir()
    shutil.copy(HOST_PYTHON, rootfs / "usr/bin" / VERSION)
    (rootfs / "usr/bin/python3").symlink_to(VERSION)
    (rootfs / "usr/bin/python").symlink_to(VERSION)
    shutil.copy(BUSYBOX, rootfs / "bin/busybox")
    shutil.copytree(
        STDLIB,
        rootfs / "usr/lib" / VERSION,
        symlinks=True,
        ignore=lambda folder, names: [
            n for n in names if n in LEFT_OUT or n.startswith("config-") or n == "site-packages"
        ],
    )
    for library in _libraries(HOST_PYTHON):
        target = rootfs / library.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(library.resolve(), target)
    (workdir / "Dockerfile").write_text(DOCKERFILE)
    client.images.build(path=str(workdir), tag=PYTHON_IMAGE, rm=True, pull=False)
    return PYTHON_IMAGE


@pytest.fixture(scope="session")
def python_tag(docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_python_image(docker_engine, tmp_path_factory.mktemp("python-image"))


@pytest.fixture
def python_image(docker_client: Any, python_tag: str) -> str:
    """The Python test image's tag (built once per test process), for a `docker` test."""
    return python_tag
