"""Shared pieces of the model tests: a config, fake time, script files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model import Accounting, LitellmModel
from harness.model.names import import_litellm

# Tests that import litellm themselves must not make it fetch its price table: imported
# here the way harness imports it (its local price table, no variable left set).
import_litellm()


@dataclass
class Cfg:
    """Stands in for ``artifacts.config.ModelConfig`` (same field names)."""

    name: str = "scripted/builtin:echo"
    temperature: float | None = None
    max_tokens: int | None = None
    timeout_s: float | None = None
    retry_deadline_s: float | None = 60.0
    context_window: int = 128_000
    api_key_env: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Budgets:
    session_tokens: int | None = None
    session_dollars: float | None = None
    run_tokens: int | None = None
    run_dollars: float | None = None


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "bash",
            "description": "run a command",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        },
    }
]


def write_script(root: Path, data: dict[str, Any], name: str = "script.json") -> str:
    """Write a script into the project; returns the model name for it."""
    (root / name).write_text(json.dumps(data))
    return f"scripted/{name}"


def make_model(
    root: Path,
    name: str,
    *,
    fake: FakeTime | None = None,
    accounting: Accounting | None = None,
    **cfg: Any,
) -> LitellmModel:
    fake = fake or FakeTime()
    return LitellmModel(
        Cfg(name=name, **cfg),
        project_root=root,
        accounting=accounting,
        sleep=fake.sleep,
        clock=fake.clock,
    )


def user(text: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": text},
    ]
