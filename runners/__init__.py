"""Runners: where the agent's commands run (Docker, local), and how failures read.

Imports only ``harness.errors`` and pydantic at import time; the docker SDK is imported
when a DockerRunner is built.
"""

from runners.base import CommandResult, Failure, FailureKind, Phase, Resources, Runner
from runners.factory import make_runner, resources_from_config
from runners.fake import FakeRunner, ScriptedRunner

__all__ = [
    "CommandResult",
    "Failure",
    "FailureKind",
    "FakeRunner",
    "Phase",
    "Resources",
    "Runner",
    "ScriptedRunner",
    "make_runner",
    "resources_from_config",
]
