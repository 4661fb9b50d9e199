"""Runners: where the agent's commands run (Docker, local), and how failures read.

Imports only ``harness.errors``, ``artifacts.config`` (the defaults) and pydantic at import
time; the docker SDK is imported when a DockerRunner is built. The runners themselves and
`make_runner` are imported from their modules (`runners.factory`), never through this
package: the runners import its leaf modules (`base`, `classify`, ...).
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
]
