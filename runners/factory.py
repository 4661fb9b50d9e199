"""make_runner: choose and build the runner named by the configuration."""

from __future__ import annotations

import logging
from pathlib import Path

from harness.errors import RunnerError
from runners.base import Resources, Runner, RunnerSettings

log = logging.getLogger(__name__)


def make_runner(
    config: RunnerSettings, project_root: Path, *, labels: dict[str, str] | None = None
) -> Runner:
    """The runner that ``config.kind`` names ("docker", "local" or "auto").

    "auto" picks Docker when an engine answers and the image exists, else the local
    runner if ``allow_local``. ``runner.describe()`` says which was chosen and why.

    Raises:
        RunnerError: Docker was required (or "auto" without allow_local) and cannot run.
    """
    from runners.local import LocalRunner

    kind = config.kind
    resources = Resources.of(config)
    setup_network = config.setup_network
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
        if kind == "docker" or not config.allow_local:
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
    config: RunnerSettings,
    project_root: Path,
    resources: Resources,
    labels: dict[str, str] | None,
    kind: str,
) -> Runner:
    from runners.docker_runner import DockerRunner

    reason = (
        'configured (runner.kind = "docker")'
        if kind == "docker"
        else 'runner.kind = "auto": a Docker engine answered and the image exists'
    )
    return DockerRunner(
        project_root,
        image=config.image,
        resources=resources,
        setup_network=config.setup_network,
        user=config.user,
        labels=labels,
        reason=reason,
    )
