"""`harness image build`: build the runner image from the project's Dockerfile or the template."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.errors import ExitCode, RunnerError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "image",
        help="the Docker image commands run in",
        description="Manage the runner's Docker image (nothing is pulled: the base image "
        "must be on the engine).",
    )
    sub = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = sub.add_parser(
        "build",
        help="build the image from the project's Dockerfile or the default template",
        description="Build the runner image: the project's Dockerfile (or "
        ".harness/Dockerfile) if present, else the default template (Python 3.11, "
        "pytest, user 1000). Tagged as runner.image from harness.toml unless --tag.",
    )
    build.add_argument("--tag", help="image tag (default: runner.image from harness.toml)")
    build.add_argument("--file", type=Path, help="a Dockerfile to build instead")
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    from harness.config import load_config
    from runners.docker_support import connect
    from runners.images import build_image, plan_build

    root = Path(args.project).resolve()
    tag = args.tag or load_config(root).runner.image
    plan = plan_build(root, args.file)
    print(f"building {tag} from {plan.source} ...", flush=True)
    try:
        client = connect()
        try:
            image_id = build_image(client, plan, tag)
        finally:
            client.close()
    except RunnerError as error:
        print(f"harness: {error}", file=sys.stderr)
        # The engine not answering is the table's "Docker unreachable" (4); a Dockerfile
        # or a base image that does not build is the user's input to fix (2).
        unreachable = error.kind == "daemon_unreachable"
        return int(ExitCode.WAITING if unreachable else ExitCode.INVALID)
    print(f"built {tag} ({image_id[:19]})")
    return int(ExitCode.OK)
