"""make_runner: choose and build the runner named by the configuration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import RunnerError
from runners.base import Resources, Runner

if TYPE_CHECKING:
    from artifacts.config import RunnerConfig

log = logging.getLogger(__name__)
DEFAULT_IMAGE = "harness-default:latest"
DEFAULT_USER = "1000:1000"


def resources_from_config(config: RunnerConfig | Any) -> Resources:
    """The default resources of a run, from the ``[runner]`` section."""
    defaults = Resources()
    return Resources(
        memory_mb=getattr(config, "memory_mb", None) or defaults.memory_mb,
        cpus=getattr(config, "cpus", None) or defaults.cpus,
        pids=getattr(config, "pids", None) or defaults.pids,
        gpus=getattr(config, "gpus", None) or 0,
        timeout_s=getattr(config, "timeout_s", None) or defaults.timeout_s,
        network=bool(getattr(config, "network", False)),
    )


def make_runner(
    config: RunnerConfig | Any, project_root: Path, *, labels: dict[str, str] | None = None
) -> Runner:
    """The runner that ``config.kind`` names ("docker", "local" or "auto").

    "auto" picks Docker when an engine answers and the image exists, else the local
    runner if ``allow_local``. ``runner.describe()`` says which was chosen and why.

    Raises:
        RunnerError: Docker was required (or "auto" without allow_local) and cannot run.
    """
    from runners.local import LocalRunner

    kind = getattr(config, "kind", "auto")
    resources = resources_from_config(config)
    setup_network = bool(getattr(config, "setup_network", True))
    if kind == "local":
        return LocalRunner(project_root, resources=resources, setup_network=setup_network)
    if kind not in ("docker", "auto"):
        raise RunnerError(
            f"unknown runner kind {kind!r}.",
            kind="config",
            suggestion='Set runner.kind to "auto", "docker" or "local" in harness.toml.',
        )
    try:
        return _docker(config, project_root, resources, labels, kind)
    except RunnerError as error:
        if kind == "docker" or not getattr(config, "allow_local", False):
            if kind == "auto":
                error.suggestion += (
                    " Or set runner.allow_local = true to fall back to the local runner "
                    "(no sandbox)."
                )
                error.message = f"{error.message} {error.suggestion}".strip()
                error.args = (error.message,)
            raise
        reason = f'runner.kind = "auto" and Docker is not usable ({error.kind}); allow_local = true'
        log.warning("harness: Docker is not usable (%s); using the local runner", error.kind)
        return LocalRunner(
            project_root, resources=resources, setup_network=setup_network, reason=reason
        )


def _docker(
    config: Any,
    project_root: Path,
    resources: Resources,
    labels: dict[str, str] | None,
    kind: str,
) -> Runner:
    from runners.docker_runner import DockerRunner

    image = getattr(config, "image", None) or DEFAULT_IMAGE
    reason = (
        'configured (runner.kind = "docker")'
        if kind == "docker"
        else 'runner.kind = "auto": a Docker engine answered and the image exists'
    )
    return DockerRunner(
        project_root,
        image=image,
        resources=resources,
        setup_network=bool(getattr(config, "setup_network", True)),
        user=getattr(config, "user", None) or DEFAULT_USER,
        labels=labels,
        max_attempts=int(getattr(config, "max_attempts", 3) or 3),
        reason=reason,
    )
