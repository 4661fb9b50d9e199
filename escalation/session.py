"""`Escalation`: the gates, the durable question store, the matrix and the record of one run."""

from __future__ import annotations

from dataclasses import dataclass, field

from escalation.fit import FitSettings
from escalation.gates import Gates
from escalation.learn import FitReport, Settled, refit, settle_session
from escalation.logistic import Hook
from escalation.matrix import Matrix
from escalation.questions import QuestionStore
from escalation.trace import Settling, Trace
from harness.events import Event, Events


@dataclass
class Escalation:
    """What a session consults before a gated action or when its agent is unsure, and what
    it learns from when the session closes."""

    gates: Gates
    store: QuestionStore
    matrix: Matrix
    interactive: bool
    run_id: str
    max_questions: int
    events: Events = field(default_factory=Events)
    """The run's observers, told of each question that waits for a human."""
    settings: FitSettings | None = None
    """The learning target (None: outcomes are kept, no fit is made)."""
    samples: int = 1
    """Completions of each scored turn (N >= 2: N - 1 extra model calls, for disagreement)."""

    def asked(self, session: int) -> int:
        """Questions this session of the run has asked (approvals not counted)."""
        return self.store.count_asked(session, run=self.run_id)

    def settle(self, trace: Trace, how: Settling) -> Settled:
        """The closed session's outcomes, kept in the project and user records."""
        return settle_session(trace, how, self.store, self.matrix.record, self.matrix.prior)

    @property
    def learns(self) -> bool:
        return self.settings is not None

    def refit(self, key: str, *, hook: Hook | None = None) -> FitReport:
        """Refit weights and threshold on the record, kept under ``key``."""
        if self.settings is None:
            raise ValueError("learning is off ([escalation] learn = false)")
        return refit(self.matrix.record, self.matrix.prior, self.settings, key=key, hook=hook)

    def announce(self, report: FitReport, session: int) -> None:
        """Tell the run's observers (progress lines, `--json`) that a refit changed the
        weights or threshold in force; nothing when it did not."""
        if not report.changed or not self.events.active:
            return
        data = {
            "weights_before": list(report.before.weights),
            "weights": list(report.after.weights),
            "threshold_before": report.before.threshold,
            "threshold": report.after.threshold,
            "outcomes": report.after.outcomes,
            "recall": report.fit.recall,
            "ask_rate": report.fit.ask_rate,
        }
        self.events.emit(
            Event(
                "policy.changed",
                run_id=self.run_id,
                session=session,
                detail=report.change(),
                data=data,
            )
        )

    def close(self) -> None:
        """Release the question store and the records."""
        self.store.close()
        self.matrix.record.close()
        if self.matrix.prior is not None:
            self.matrix.prior.close()
