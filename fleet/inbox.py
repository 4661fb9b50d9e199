"""Answering a parked run's question from any machine: the one path of `harness fleet
answer/approve/deny` and of the TUI's fleet inbox.

The answer is settled in the fleet's table (a conditional update: twice is once); when the
run is parked and no question of it is left pending, its next drive is enqueued under its
deterministic workflow id (DBOS: twice is once), then the run is marked ``queued`` (a
process stopped in between leaves the drive on its queue, never a run marked queued with
no drive), so whichever worker is free takes it. The answer reaches the run's own
question store at the start of that drive (fleet/drive.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet.app import Client
from fleet.place import FleetError

if TYPE_CHECKING:
    from fleet.db import FleetDb
    from fleet.place import Place

VERBS = ("answered", "approved", "denied")


@dataclass(frozen=True)
class Settled:
    """What an answer did."""

    ref: str
    """``RUN/QID``."""
    verb: str
    already: str | None = None
    """The question's status when it was settled before (nothing changed), else None."""
    drive: int | None = None
    """The drive enqueued when the answer let the run go on, else None."""

    def said(self) -> str:
        if self.drive is not None:
            return f"{self.ref} {self.verb}; the run goes on (drive {self.drive})"
        return f"{self.ref} {self.verb}"


def settle(
    place: Place,
    db: FleetDb,
    run_id: str,
    qid: str,
    verb: str,
    text: str | None = None,
    choice: int | None = None,
) -> Settled:
    """Answer (``answered``), approve or deny question ``qid`` of ``run_id``; ``choice`` is
    0-based. FleetError (nothing changed) for an unknown question, a verb that does not fit
    its kind, a choice out of range or an answer with neither text nor choice."""

    if verb not in VERBS:
        raise ValueError(verb)
    ref = f"{run_id}/{qid}"
    question = {q.qid: q for q in db.questions_of(run_id)}.get(qid)
    if question is None:
        raise FleetError(f"{ref}: no such question (see `harness fleet questions`)")
    if (question.kind == "approval") != (verb != "answered"):
        what = "approve or deny" if question.kind == "approval" else "answer"
        raise FleetError(f"{ref} is a {question.kind}: {what} it")
    if choice is not None:
        if not 0 <= choice < len(question.choices):
            raise FleetError(f"--choice {choice + 1}: {ref} has {len(question.choices)} choice(s)")
        text = text or question.choices[choice]
    if verb == "answered" and not text:
        raise FleetError(f"an answer to {ref} needs text or --choice")
    if verb == "denied":
        text = text or ""
    already = None
    if not db.settle_question(run_id, qid, verb, text, choice):
        already = question.status
    row = db.run(run_id)
    if row is None or row.state != "parked" or db.questions_of(run_id, status="pending"):
        return Settled(ref, verb, already)
    client = Client(place)  # first: a process stopped in between leaves the drive enqueued
    try:
        client.enqueue(run_id, row.drive + 1, row.klass)
    finally:
        client.close()
    # unless a worker has it already (it may even have parked it again, at the next drive)
    db.update_run(run_id, state="queued", only_if=("parked",), at_drive=row.drive)
    return Settled(ref, verb, already, drive=row.drive + 1)
