"""Plain views of the harness state that the panels draw (no Textual, no SQLite here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from artifacts.models import FeatureList, ProgressEntry


@dataclass(frozen=True)
class StepView:
    """One journaled step as the step stream shows it."""

    rowid: int
    run: str
    session: int
    seq: int
    kind: str
    name: str
    status: str  # "running", "ok", "error", "superseded", ...
    duration_s: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class SessionView:
    """One session: how it ended and what it cost."""

    run: str
    number: int
    outcome: str  # "running" while open
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    passing: int | None = None  # features passing after the session, when known


@dataclass(frozen=True)
class QuestionView:
    """A pending question or gated action, with the scores that made the agent ask."""

    id: str
    kind: str  # "question" or "approval"
    text: str
    context: str = ""
    choices: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    step_ref: str = ""
    run: str = ""
    """The run that asked ("" when not recorded)."""


@dataclass(frozen=True)
class RunnerView:
    """What the runner last did, and the last infrastructure failure."""

    kind: str = "?"
    in_use: str = ""  # the runner the newest run used (its own description)
    containers: tuple[str, ...] = ()
    resources: dict[str, Any] = field(default_factory=dict)
    last_command: str = ""
    last_exit: int | None = None
    last_failure: dict[str, Any] | None = None
    failure_at: str = ""


@dataclass(frozen=True)
class Reply:
    """What the human decided about one question."""

    question_id: str
    action: str  # "answer", "approve", "deny"
    text: str | None = None
    choice: int | None = None  # 0-based index into the question's choices
    files: tuple[str, ...] = ()


@dataclass
class Update:
    """What changed since the last refresh; None means "unchanged"."""

    features: FeatureList | None = None
    features_error: str | None = None
    progress: list[ProgressEntry] | None = None
    sessions: list[SessionView] | None = None
    steps: list[StepView] = field(default_factory=list)
    questions: list[QuestionView] | None = None
    runner: RunnerView | None = None
    run_status: str | None = None  # e.g. "run 3f2a: running", "no run"
    run_active: bool | None = None  # a live process drives the latest run
    run_id: str | None = None  # the latest run
    errors: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        """True when nothing needs drawing."""
        return (
            self.features is None
            and self.features_error is None
            and self.progress is None
            and self.sessions is None
            and not self.steps
            and self.questions is None
            and self.runner is None
            and self.run_status is None
            and not self.errors
        )
