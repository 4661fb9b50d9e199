"""What a tool call changed that the session must know: a small union of typed values.

A tool returns them in `ToolResult.effects`; they are journaled as part of the step's
output, so a replayed step yields the same values and the session applies them again
(`WorkContext.apply`). Nothing re-reads a dict by key or switches on a tool's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from artifacts.models import Evidence
from escalation.matrix import Decision
from harness.tools import ToolResult
from runners.base import Failure, Resources


class Verified(BaseModel):
    """A check the harness itself ran in this session (evidence for `mark_passing`).

    `ref` is the journal reference of the step that ran it; the pipeline fills it in.
    """

    kind: Literal["verified"] = "verified"
    feature: str
    command: str
    exit_code: int
    output_digest: str
    at: str
    ref: str = ""
    tree: str = ""
    """The git tree of the clean checkout the check ran on ("": in the work tree)."""
    tail: str = ""
    """The end of what the check printed (for the evaluator)."""

    def evidence(self, session: int) -> Evidence:
        """This check as evidence (without the proofs mark_passing adds)."""

        return Evidence(
            verification=self.ref,
            at=datetime.fromisoformat(self.at),
            exit_code=self.exit_code,
            output_digest=self.output_digest,
            command=self.command,
            session=session,
        )


class Marked(BaseModel):
    """A feature turned passing through the guarded tool (a legitimate feature-list write)."""

    kind: Literal["marked"] = "marked"
    feature: str
    evidence: Evidence | None = None
    """The evidence written (None in records older than the proofs)."""


class NotProven(BaseModel):
    """mark_passing was refused by a proof (session.verify.verifier): why, for the
    progress entry and the next brief."""

    kind: Literal["not_proven"] = "not_proven"
    feature: str
    reason: str
    undistinguished: bool = False
    """Its check passed before the session too: only a human can stand in for that proof."""


class FeaturesWritten(BaseModel):
    """The initializer wrote the feature list (a legitimate feature-list write)."""

    kind: Literal["features_written"] = "features_written"
    count: int


class Noted(BaseModel):
    """A line for this session's progress entry."""

    kind: Literal["noted"] = "noted"
    text: str


class ResourcesGranted(BaseModel):
    """The resources the next workloads of this session run with."""

    kind: Literal["resources_granted"] = "resources_granted"
    resources: Resources


class Asked(BaseModel):
    """A question a human was asked, and where it stands."""

    kind: Literal["asked"] = "asked"
    question: str
    status: str


class FileWritten(BaseModel):
    """A file tool changed a project file: digests of its bytes before (None: it did not
    exist) and after. The escalation record reads them: a change put back later in the
    session was undone."""

    kind: Literal["file_written"] = "file_written"
    path: str
    before: str | None
    after: str | None


class Considered(BaseModel):
    """The escalation matrix scored an ``ask_human`` the agent made: asked or not, and why.
    ``ref`` is the call's journal reference (the pipeline fills it in)."""

    kind: Literal["considered"] = "considered"
    decision: Decision
    text: str
    asked: bool
    question: str | None = None
    default: str | None = None
    ref: str = ""


class CommandRan(BaseModel):
    """A command the agent ran (read by `harness log`/the TUI; the session keeps nothing)."""

    kind: Literal["command_ran"] = "command_ran"
    command: str
    exit_code: int | None
    failure: Failure | None = None


class ProgramCall(BaseModel):
    tool: str
    status: str
    ref: str


class ProgramRan(BaseModel):
    """A code-mode program ran; its calls are journal steps of their own (`ref`)."""

    kind: Literal["program_ran"] = "program_ran"
    outcome: str
    calls: list[ProgramCall] = Field(default_factory=list)


Effect = Annotated[
    Verified
    | Marked
    | NotProven
    | FeaturesWritten
    | Noted
    | ResourcesGranted
    | Asked
    | FileWritten
    | Considered
    | CommandRan
    | ProgramRan,
    Field(discriminator="kind"),
]

# Effects that say the tool itself wrote feature_list.json, through the guards.
GUARDED_WRITES = (Marked, FeaturesWritten)

# A tool's result as the session journals and replays it.
Result = ToolResult[Effect]


def stamp(effects: list[Any], ref: str) -> list[Any]:
    """The effects with the producing step's journal reference filled in where it is due."""
    return [
        e.model_copy(update={"ref": ref})
        if isinstance(e, Verified | Considered) and not e.ref
        else e
        for e in effects
    ]
