"""make_runner: choose and build the runner named by the configuration."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import RunnerError
from runners.base import Resources, Runner, RunnerSettings
from runners.local import LocalRunner

log = logging.getLogger(__name__)


def _limits(config: RunnerSettings) -> dict[str, Any]:
    """The disk limits every runner takes (0 in harness.toml means no limit)."""
    return {"disk_mb": config.disk_mb or None, "max_file_mb": config.max_file_mb or None}


def make_runner(
    config: RunnerSettings,
    project_root: Path,
    *,
    labels: dict[str, str] | None = None,
    protected: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    hidden: list[str] | None = None,
    carry: dict[str, Path] | None = None,
    hide: list[str] | None = None,
    client: Any | None = None,
) -> Runner:
    """The runner that ``config.kind`` names ("docker", "bwrap", "local" or "auto").

    "auto" picks Docker when an engine answers and the image exists, else the
    bubblewrap sandbox where bwrap works, else it raises: the unsandboxed local runner
    runs only when configured (``kind = "local"``). ``runner.describe()`` says which
    was chosen and why. ``protected`` are the ``[protect] paths`` (the harness's own
    state is always protected). ``environ`` is what the local runner's commands start from:
    the run's environment without its secrets (default: ``os.environ`` less the variables
    with secret-looking names, read at each command). ``hidden`` are the paths a sandbox
    covers (``[verify] hidden``; the local runner cannot); ``carry`` host paths a sandbox
    binds read-only at these places of the project (a clean checkout's carried
    dependencies); ``hide`` the ``[protect] hide`` patterns of files declared secret
    (with ``.env`` files, always): a sandbox covers those it finds (the local runner
    cannot, and says so). ``client``: a Docker engine client a Docker runner uses instead
    of connecting anew (a check's runner reuses the session runner's).

    Raises:
        RunnerError: the runner named cannot run (for "auto": neither Docker nor bwrap).
    """

    kind = config.kind
    resources = Resources.of(config)
    setup_network = config.setup_network
    if kind == "local":  # not a sandbox: it can hide nothing, and binds nothing
        return LocalRunner(
            project_root,
            resources=resources,
            setup_network=setup_network,
            environ=environ,
            **_limits(config),
        )
    sandboxed = {**_limits(config), "hidden": hidden, "carry": carry, "hide": hide}
    # bubblewrap's own: Docker's commands have the image's /etc and their dependencies in it
    cache = {"package_cache": config.package_cache, "etc": tuple(config.etc)}
    if kind == "bwrap":
        return _bwrap(project_root, resources, setup_network, protected, {**sandboxed, **cache})
    if kind not in ("docker", "auto"):
        raise RunnerError(
            f"unknown runner kind {kind!r}.",
            kind="config",
            suggestion='Set runner.kind to "auto", "docker", "bwrap" or "local" in harness.toml.',
        )
    try:
        engine = {**sandboxed, "client": client}
        return _docker(config, project_root, resources, labels, kind, protected, engine)
    except RunnerError as docker_error:
        if kind == "docker":
            raise
        why = f"Docker is not usable ({docker_error.kind})"
        reason = f'runner.kind = "auto": {why}; bubblewrap works here'
        try:
            runner = _bwrap(
                project_root, resources, setup_network, protected, {**sandboxed, **cache}, reason
            )
        except RunnerError as bwrap_error:
            raise RunnerError(
                f'no sandbox for runner.kind = "auto": {_bare(docker_error)} And '
                f"{_bare(bwrap_error)}",
                kind="sandbox_unavailable",
                suggestion="Install bubblewrap (`apt install bubblewrap`) or start Docker and "
                'build the image (`harness image build`); or set runner.kind = "local" in '
                "harness.toml to run the agent's commands unsandboxed on this machine.",
            ) from bwrap_error
        log.info("harness: %s; using the bubblewrap sandbox", why)
        return runner


def _bare(error: RunnerError) -> str:
    """The error's message without its suggestion."""
    return error.message.removesuffix(error.suggestion).strip()


def _bwrap(
    project_root: Path,
    resources: Resources,
    setup_network: bool,
    protected: list[str] | None,
    extra: dict[str, Any],
    reason: str = 'configured (runner.kind = "bwrap")',
) -> Runner:
    # Each sandbox's module is imported when it is chosen (as the journal's backends are):
    # a run on the local runner does not load them.
    from runners.bwrap import BubblewrapRunner  # noqa: PLC0415

    return BubblewrapRunner(
        project_root,
        resources=resources,
        setup_network=setup_network,
        protected=protected,
        reason=reason,
        **extra,
    )


def _docker(
    config: RunnerSettings,
    project_root: Path,
    resources: Resources,
    labels: dict[str, str] | None,
    kind: str,
    protected: list[str] | None,
    extra: dict[str, Any],
) -> Runner:
    from runners.docker_runner import DockerRunner  # noqa: PLC0415

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
        protected=protected,
        **extra,
    )
