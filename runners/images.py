"""Runner images: find the Dockerfile of a project (or the template) and build it offline.

Nothing is pulled: a base image must already be on the engine. A build that needs a
missing base image fails with ``RunnerError(kind="image_missing")`` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import RunnerError

if TYPE_CHECKING:
    from docker import DockerClient

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "docker" / "Dockerfile"
PROJECT_DOCKERFILES = ("Dockerfile", ".harness/Dockerfile")
# What the engine says when a base image is absent and cannot be pulled.
MISSING_BASE = re.compile(
    r"pull access denied|manifest unknown|not found|no such host|dial tcp|"
    r"failed to resolve|connection refused|i/o timeout|TLS handshake|"
    r"server misbehaving|network is unreachable",
    re.IGNORECASE,
)


@dataclass
class BuildPlan:
    """What to build: the Dockerfile, its context folder, and where it came from."""

    dockerfile: Path
    context: Path
    source: str


def plan_build(project_root: Path, dockerfile: Path | None = None) -> BuildPlan:
    """The project's own Dockerfile if it has one, else the shipped template."""
    root = Path(project_root).resolve()
    if dockerfile is not None:
        path = (root / dockerfile).resolve() if not dockerfile.is_absolute() else dockerfile
        if not path.is_file():
            raise RunnerError(
                f"no Dockerfile at {path}.",
                kind="build_failed",
                suggestion="Pass an existing file with --file, or omit it to use the template.",
            )
        context = root if path.is_relative_to(root) else path.parent
        return BuildPlan(path, context, f"{path}")
    for name in PROJECT_DOCKERFILES:
        if (root / name).is_file():
            return BuildPlan(root / name, root, f"the project's {name}")
    return BuildPlan(TEMPLATE, TEMPLATE.parent, "the default template (templates/docker)")


def base_images(dockerfile: Path) -> list[str]:
    """The images named by FROM lines (stage names excluded)."""
    images, stages = [], set()
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].upper() == "FROM":
            words = [p for p in parts[1:] if not p.startswith("--")]
            if words and words[0].lower() not in stages and words[0] != "scratch":
                images.append(words[0])
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2].lower())
    return images


def build_image(client: DockerClient, plan: BuildPlan, tag: str) -> str:
    """Build ``plan`` as ``tag`` without pulling; returns the image id."""
    from docker.errors import APIError, BuildError

    try:
        image, _logs = client.images.build(
            path=str(plan.context),
            dockerfile=str(plan.dockerfile),
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
        )
    except (BuildError, APIError) as error:
        text = str(error)
        if isinstance(error, BuildError):
            text += "\n" + "".join(str(item.get("stream", "")) for item in error.build_log)
        raise _build_error(plan, text) from error
    return str(image.id)


def _build_error(plan: BuildPlan, text: str) -> RunnerError:
    tail = " ".join(text.strip().split())[-400:]
    missing = [image for image in base_images(plan.dockerfile) if image in text]
    if MISSING_BASE.search(text) and (missing or "FROM" in text or "pull" in text.lower()):
        names = ", ".join(missing or base_images(plan.dockerfile)) or "the base image"
        return RunnerError(
            f"cannot build from {plan.source}: the base image {names} is not on this "
            f"Docker engine and cannot be pulled ({tail}).",
            kind="image_missing",
            suggestion=f"Load it (`docker load -i <file>`, or `docker pull {names}` where "
            "a registry is reachable) and build again, or pass --file with a Dockerfile "
            "whose base you have.",
        )
    return RunnerError(
        f"building from {plan.source} failed: {tail}",
        kind="build_failed",
        suggestion="Fix the Dockerfile (the message above names the failing step) and "
        "run `harness image build` again.",
    )
