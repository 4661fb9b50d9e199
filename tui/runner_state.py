"""Runner facts that are not in the journal: its config, and the containers of this project."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from harness.config import load_config

RESOURCE_KEYS = ("kind", "image", "memory_mb", "cpus", "pids", "gpus", "timeout_s", "network")
LABEL_PROJECT = "harness.project"  # as runners.docker_support labels its containers


def read_runner_config(root: Path) -> dict[str, Any]:
    """The [runner] section as configured (defaults < harness.toml < environment)."""

    try:
        runner = load_config(root).runner
    except Exception as error:  # a bad harness.toml is `harness validate`'s to report
        return {"kind": f"? ({type(error).__name__}: see `harness validate`)"}
    return {key: getattr(runner, key) for key in RESOURCE_KEYS if hasattr(runner, key)}


def docker_reachable() -> bool:
    """True when a Docker engine is configured or its socket exists (cheap, no connect)."""
    return bool(os.environ.get("DOCKER_HOST")) or Path("/var/run/docker.sock").exists()


def list_containers(root: Path) -> tuple[str, ...]:
    """Running containers labelled for this project: "name (status, image)"; () if none."""
    if not docker_reachable():
        return ()
    try:
        import docker  # noqa: PLC0415  (lazy: the SDK loads only once an engine answers)

        client = docker.from_env(timeout=2)
        try:
            found = client.containers.list(filters={"label": f"{LABEL_PROJECT}={root.resolve()}"})
            return tuple(
                f"{c.name} ({c.status}, {c.labels.get('harness.role', 'agent')})" for c in found
            )
        finally:
            client.close()
    except Exception:  # an unreachable engine is shown by the runner's own failure
        return ()


class ContainerWatch:
    """Lists this project's containers every `every_s` seconds on a daemon thread.

    A daemon thread, because a slow or hung Docker engine must never delay the TUI's quit.
    """

    def __init__(self, root: Path, every_s: float) -> None:
        self.root = root
        self.every_s = every_s
        self.containers: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listing (only when an engine may be there)."""
        if docker_reachable() and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tui-docker", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.containers = list_containers(self.root)
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        """Ask the thread to end (it is not waited for)."""
        self._stop.set()
