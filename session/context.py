"""What the session's tools see: the project, the runner, the feature and the session's record."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from escalation.trace import Decided, Trace
from harness.worker import Worker
from runners import Failure, Resources
from session.effects import (
    Asked,
    CommandRan,
    Considered,
    Effect,
    FeaturesWritten,
    FileWritten,
    Marked,
    Noted,
    NotProven,
    ProgramRan,
    ResourcesGranted,
    Result,
    Verified,
)
from session.tools.search import FUNCTIONS

if TYPE_CHECKING:
    from pydantic import BaseModel

    from artifacts.models import Evidence, Feature
    from escalation import Escalation
    from harness.journal.protocol import StepJournal
    from harness.scope import ResourcePlacement
    from runners import Runner
    from session.verify.verifier import Verifier


class Door(Protocol):
    """What a tool may ask of the session's one door for tool calls (``session.pipeline``):
    the reference of its own step (a question's durable key), a call of another tool made
    through the door (code mode), and the journal its nested steps go to (proofs)."""

    @property
    def journal(self) -> StepJournal: ...

    def step_ref(self) -> str: ...

    def call_nested(self, name: str, args: BaseModel, *, via: str) -> Result: ...


class _Ran(Protocol):
    """What ran under a time limit: a command's result or a check's clean run."""

    failure: Failure | None

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Self: ...


Ran = TypeVar("Ran", bound=_Ran)


def wall_said(failure: Failure, budget: str) -> Failure:
    """``failure`` of something whose time limit a wall-time budget cut short: a timeout
    there is the budget's, which no ``request_resources`` can lift, and says so."""

    if failure.kind != "timeout":
        return failure
    return failure.model_copy(
        update={
            "message": f"{failure.message}; that limit was what was left of the {budget}",
            "suggestion": f"a longer timeout_s would not help: the {budget} is spent; "
            "note what is left for the next session (a person can raise the budget in "
            "harness.toml)",
        }
    )


@dataclass
class WorkContext:
    """State the tools read and the session updates from (possibly replayed) effects."""

    root: Path
    runner: Runner
    run_id: str
    session: int
    feature: Feature | None = None
    resources: Resources | None = None
    max_resources: Resources | None = None
    placement: ResourcePlacement | None = None
    """A fleet's resource classes: a grant above the run's class moves the run."""
    gates: Escalation | None = None  # gates, questions and the matrix; None: no human
    notes: list[str] = field(default_factory=list)
    verifications: dict[str, Verified] = field(default_factory=dict)
    marked: list[str] = field(default_factory=list)
    evidence: dict[str, Evidence] = field(default_factory=dict)
    """The evidence each feature marked in this session was given (from its Marked effect)."""
    undistinguished: set[str] = field(default_factory=set)
    """Features whose check passed before this session too (only a human can pass them)."""
    verifier: Verifier | None = None
    """Checks on clean checkouts and the proofs of mark_passing (None: checks run in the
    work tree and mark_passing asks for no proof, as in unit tests of other parts)."""
    questions: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    """Paths the agent may not change (``artifacts.config.protected_paths``)."""
    hidden: list[str] = field(default_factory=list)
    """Paths the agent may not even read (``[verify] hidden``)."""
    secret: list[str] = field(default_factory=list)
    """``[protect] hide``: with ``.env`` files, what the file tools never read or list."""
    user_files: list[str] = field(default_factory=list)
    """Files already dirty or untracked at wake: the user's, never restored or removed."""
    protected_extras: dict[str, list[int]] = field(default_factory=dict)
    """What the protected paths held beyond HEAD at wake (the user's ignored files)."""
    door: Door | None = None
    """The session's one door for tool calls, as far as a tool may use it (code mode's
    calls, ask_human's step reference, the proofs' nested steps); set by the agent loop."""
    trace: Trace = field(default_factory=Trace)
    """What the session did around its escalation decisions (settled at writeback)."""
    pending_writes: dict[str, bytes] = field(default_factory=dict)
    """Bytes a file tool decided to write (by project path), written by the pipeline once
    the step that decided them is recorded (session.tools.files.apply_write)."""
    swept: set[tuple[str, str]] = field(default_factory=set)
    """The (folder, name) pairs whose killed writers' temp files the session's writes
    swept already (``artifacts.io.atomic_write``): each folder is scanned once a name."""
    _real_root: tuple[Path, str] | None = field(default=None, repr=False, compare=False)
    """(root, its resolved path): ``real_root``'s memory."""
    wall: float | None = None
    """``time.monotonic()`` at which the session's wall-time budget ends (the sooner of
    ``session_wall_s`` and the run's ``run_wall_s``); None: no such budget."""
    wall_what: str = ""
    """That budget in words (``"the run's wall-time limit, 600 s"``)."""
    worker: Worker | None = None
    """The killable process list_files and grep run in (``tool_worker``)."""
    tool_s: float = 30.0
    """Longest one call in the tool worker may take (``[budgets] tool_s``)."""

    def time_for(self, seconds: float) -> tuple[float, str]:
        """At most ``seconds`` for one call, less when the wall-time budget ends sooner;
        and what bounds it, in words."""
        if self.wall is not None:
            left = self.wall - time.monotonic()
            if left < seconds:
                return max(0.0, left), self.wall_what
        return seconds, f"its limit, [budgets] tool_s = {seconds:g}"

    def within_wall(self, resources: Resources | None) -> Resources | None:
        """``resources`` with their time limit cut to what is left of the session's
        wall-time budget (the run's or its own), so no command outlives it."""

        base = resources or Resources()
        seconds, _ = self.time_for(base.timeout_s)
        if seconds >= base.timeout_s:
            return resources
        return base.model_copy(update={"timeout_s": max(seconds, 0.01)})

    def bounded(self, resources: Resources | None, run: Callable[[Resources | None], Ran]) -> Ran:
        """``run`` with ``resources`` cut to what is left of the wall-time budget; a
        timeout the budget caused says so (no ``request_resources`` can lift it)."""

        given = self.within_wall(resources)
        result = run(given)
        if given is resources or result.failure is None:
            return result
        return result.model_copy(update={"failure": wall_said(result.failure, self.wall_what)})

    def tool_worker(self) -> Worker:
        """The session's tool worker, made on first use (its process starts on its first
        call); ``close`` ends it."""
        if self.worker is None:
            self.worker = Worker(FUNCTIONS)
        return self.worker

    def close(self) -> None:
        """End what the session's tools started (the tool worker's process)."""
        if self.worker is not None:
            self.worker.close()

    def __post_init__(self) -> None:
        self.real_root()

    def real_root(self) -> str:
        """The project folder as resolved when the session began (``confine``'s reference,
        resolved once a root): a link swapped in later for the folder, or for a folder above
        it, then leads outside the project instead of moving the project."""
        kept = self._real_root
        if kept is None or kept[0] is not self.root:
            kept = self._real_root = (self.root, os.path.realpath(self.root))
        return kept[1]

    def apply(self, effect: Effect) -> None:
        """Update session state from one effect of a tool call, live or replayed."""
        match effect:
            case Verified():
                self.verifications[effect.feature] = effect
                self.trace.checked(effect.feature, effect.exit_code == 0)
            case Noted():
                self.notes.append(effect.text)
            case Marked():
                self.marked.append(effect.feature)
                if effect.evidence is not None:
                    self.evidence[effect.feature] = effect.evidence
            case NotProven():
                note = f"{effect.feature} was not marked passing: {effect.reason}"
                if note not in self.notes:
                    self.notes.append(note)
                if effect.undistinguished:
                    self.undistinguished.add(effect.feature)
            case ResourcesGranted():
                self.resources = effect.resources
            case Asked():
                self.questions.append(effect.question)
            case FileWritten():
                self.trace.wrote(effect.path, effect.before, effect.after)
            case Considered():
                self.trace.decided(
                    Decided(
                        key=effect.ref,
                        source="ask_human",
                        text=effect.text,
                        decision=effect.decision,
                        question=effect.question if effect.asked else None,
                        default=effect.default,
                    )
                )
            case CommandRan() | ProgramRan() | FeaturesWritten():
                pass  # records for the journal's readers; nothing of the session changes
