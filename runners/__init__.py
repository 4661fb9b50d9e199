"""Runners: where the agent's commands run (Docker, local), and how failures read.

Imports only ``harness.errors``, ``artifacts.config`` (the defaults) and pydantic at import
time; the docker SDK is imported when a DockerRunner is built.
"""

from runners.base import (
    CommandResult,
    Failure,
    FailureKind,
    Phase,
    Resources,
    Runner,
    RunnerSettings,
)
from runners.factory import make_runner
from runners.fake import FakeRunner, ScriptedRunner

__all__ = [
    "CommandResult",
    "Failure",
    "FailureKind",
    "FakeRunner",
    "Phase",
    "Resources",
    "Runner",
    "RunnerSettings",
    "ScriptedRunner",
    "make_runner",
]
