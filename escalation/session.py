"""`Escalation`: the gates, the durable question store and the matrix of one run."""

from __future__ import annotations

from dataclasses import dataclass, field

from escalation.gates import Gates
from escalation.matrix import Matrix
from escalation.questions import QuestionStore
from harness.events import Events


@dataclass
class Escalation:
    """What a session consults before a gated action or when its agent is unsure."""

    gates: Gates
    store: QuestionStore
    matrix: Matrix
    interactive: bool
    run_id: str
    max_questions: int
    events: Events = field(default_factory=Events)
    """The run's observers, told of each question that waits for a human."""

    def asked(self, session: int) -> int:
        """Questions this session of the run has asked (approvals not counted)."""
        return self.store.count_asked(session, run=self.run_id)
