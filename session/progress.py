"""A session's progress entry: made from how the session ended (:func:`progress_entry`)
and appended to progress.md as a journaled step (:func:`record_progress`); the
initializer records its entry the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.models import ProgressEntry
from artifacts.progress import append_progress, read_progress
from session.sanitize import model_text

if TYPE_CHECKING:
    from harness.journal.protocol import StepJournal
    from harness.redact import Redactor
    from session.context import WorkContext
    from session.loop import LoopOutcome, SessionEnding

# Session ending -> the word in progress.md ("complete" sessions write no entry).
OUTCOME_WORDS: dict[str, str] = {  # keyed by SessionEnding (a test checks)
    "passing": "passing",
    "done": "unfinished",
    "stuck": "stuck",
    "budget": "budget exhausted",
    "parked": "waiting for a human",
}


def progress_entry(
    number: int,
    feature: str,
    ending: SessionEnding,
    outcome: LoopOutcome,
    ctx: WorkContext,
    secrets: Redactor,
) -> ProgressEntry:

    if ending == "passing":
        summary = f"{feature} verified by its check and marked passing."
        following = "Pick the next failing feature."
    elif ending == "stuck":
        summary = f"Stuck on {feature}: {outcome.detail}."
        following = f"A human should look at {feature} before more budget is spent."
    elif ending == "budget":
        summary = f"Stopped on {feature}: {outcome.detail}."
        following = f"Continue {feature}."
    else:
        summary = f"Worked on {feature}; it is not passing yet."
        following = f"Continue {feature}."

    if outcome.final_text:
        # The model's words are untrusted: one bounded plain line, never structure.
        summary += " Agent: " + model_text(outcome.final_text, secrets=secrets)

    # progress.md goes into git: no secret the model may have echoed goes with it.
    summary = secrets.text(summary)
    # A note may carry an evaluator's reasons or a regression's output: up to 600 characters.
    notes = [model_text(note, 600, secrets=secrets) for note in ctx.notes]
    return ProgressEntry(
        session=number,
        date=datetime.now(UTC).replace(microsecond=0),
        feature=feature,
        outcome=OUTCOME_WORDS.get(ending, ending),
        summary=summary,
        next=following,
        notes=notes,
    )


def record_progress(journal: StepJournal, root: Path, entry: ProgressEntry) -> None:
    """Append the session's progress entry as a journaled step; on resume the world is
    checked first (an entry for this session already there means it was appended)."""

    def appended() -> bool | None:
        return True if any(e.session == entry.session for e in read_progress(root)) else None

    journal.step(
        "artifact",
        "progress.append",
        {"session": entry.session},
        lambda: append_progress(root, entry),
        idempotent=False,
        recover=appended,
        output=bool,
    )
