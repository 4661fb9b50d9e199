"""What the session's tools see: the project, the runner, the feature and the session's record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from artifacts.models import Feature
    from runners import Resources, Runner
    from session.gating import Escalation


class Verification(BaseModel):
    """A check the harness itself ran in this session, cited as evidence."""

    feature: str
    command: str
    exit_code: int
    output_digest: str
    at: str
    ref: str = ""


@dataclass
class WorkContext:
    """State the tools read and the loop updates from (possibly replayed) results."""

    root: Path
    runner: Runner
    run_id: str
    session: int
    feature: Feature | None = None
    resources: Resources | None = None
    max_resources: Resources | None = None
    gates: Escalation | None = None  # gates, questions and the matrix; None: no human
    notes: list[str] = field(default_factory=list)
    verifications: dict[str, Verification] = field(default_factory=dict)
    marked: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def absorb(self, tool: str, status: str, data: dict[str, Any], ref: str) -> None:
        """Update session state from a tool result, live or replayed from the journal."""
        if status != "ok":
            return
        if tool == "verify_feature" and "exit_code" in data:
            self.verifications[data["feature"]] = Verification(ref=ref, **data)
        elif tool == "note" and "note" in data:
            self.notes.append(data["note"])
        elif tool == "mark_passing" and "feature" in data:
            self.marked.append(data["feature"])
        elif tool == "request_resources" and "resources" in data:
            from runners import Resources

            self.resources = Resources(**data["resources"])
