"""The fleet as the TUI shows it: every run, the workers, the pending questions of every
run (read from the fleet's tables), and replies through `fleet.inbox.settle`, the path of
`harness fleet answer/approve/deny`. No Textual here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleet.app import app_version
from fleet.db import FINAL, FleetDb
from fleet.inbox import settle
from fleet.place import fleet_place
from harness.errors import ExitCode, HarnessError, StorageError
from tui.model import QuestionView, Reply

if TYPE_CHECKING:
    from fleet.db import RunRow
    from fleet.place import Place

VERB = {"answer": "answered", "approve": "approved", "deny": "denied"}


class FleetUnreachable(HarnessError):
    """The fleet's database cannot be reached: said with what to do (exit 4, waiting for
    the database, as the exit code table says)."""

    exit_code = ExitCode.WAITING


@dataclass(frozen=True)
class RunLine:
    """One run of the fleet, as the runs table shows it."""

    id: str
    project: str
    state: str
    passing: int
    total: int
    cost_usd: float
    worker: str
    version: str
    stranded: bool
    detail: str = ""


@dataclass
class FleetSnapshot:
    """The fleet at one read."""

    runs: list[RunLine] = field(default_factory=list)
    workers: list[tuple[str, str]] = field(default_factory=list)  # (id, state)
    questions: list[QuestionView] = field(default_factory=list)


def open_fleet(url: str | None) -> FleetSource:
    """The fleet named by ``url`` (else HARNESS_FLEET_URL, else the embedded default),
    its tables reached once: FleetError for a URL that is not PostgreSQL's,
    FleetUnreachable when the database does not answer."""

    place = fleet_place(url)

    try:
        return FleetSource(place, FleetDb(place))
    except ModuleNotFoundError as error:  # the `fleet` extra is not installed
        raise HarnessError(
            f"the fleet needs {error.name}, which is not installed: "
            "pip install 'durable-agent-harness[fleet]'"
        ) from error
    except StorageError as error:
        raise FleetUnreachable(
            f"the fleet's database {place.describe()} cannot be reached ({error.detail}): "
            "start it, or give the right --url / HARNESS_FLEET_URL"
        ) from error


class FleetSource:
    """Reads the fleet and stores replies; one per TUI (its engine is thread-safe)."""

    def __init__(self, place: Place, db: FleetDb) -> None:
        self.place = place
        self.db = db
        self._replying = threading.Lock()  # one reply at a time: DBOS's client is per call
        self._in_flight = 0
        self._settled = threading.Condition()

    def read(self) -> FleetSnapshot:
        """Every run (oldest first), every worker, every pending question."""

        version = app_version()
        runs = [_line(row, version) for row in self.db.all_runs()]
        workers = [(w.id, w.state) for w in self.db.all_workers()]
        questions = [
            QuestionView(
                id=f"{q.run}/{q.qid}",
                kind=q.kind,
                text=q.text,
                context=q.context,
                choices=tuple(q.choices),
                scores=_scores(q.scores),
                reason=q.reason,
                run=q.run,
            )
            for q in self.db.questions_of(status="pending")
        ]
        return FleetSnapshot(runs, workers, questions)

    def expect_reply(self) -> None:
        """A reply is on its way to ``reply`` (said before its thread starts, so that
        ``drain`` waits for it)."""
        with self._settled:
            self._in_flight += 1

    def drain(self, timeout_s: float = 120.0) -> bool:
        """Wait for the replies in flight (a TUI quit right after an answer still enqueues
        the run's next drive); False if some are still going after ``timeout_s``."""
        with self._settled:
            return self._settled.wait_for(lambda: self._in_flight == 0, timeout_s)

    def reply(self, reply: Reply) -> str:
        """Settle one question as `harness fleet answer/approve/deny` do; what was done.
        Call ``expect_reply`` first."""
        try:
            return self._reply(reply)
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()

    def _reply(self, reply: Reply) -> str:

        run_id, _, qid = reply.question_id.rpartition("/")
        text = reply.text
        if reply.action == "deny":
            text = text or "denied in the TUI"
        with self._replying:
            done = settle(self.place, self.db, run_id, qid, VERB[reply.action], text, reply.choice)
        if done.already is not None:
            return f"{done.ref} was settled already ({done.already})"
        return done.said()

    def close(self) -> None:
        """Close the database, once the replies in flight are stored."""
        self.drain()
        self.db.close()


def _line(row: RunRow, version: str) -> RunLine:

    return RunLine(
        id=row.id,
        project=row.project,
        state=row.state,
        passing=row.passing,
        total=row.total,
        cost_usd=row.cost_usd,
        worker=row.worker or "",
        version=row.version,
        stranded=row.version != version and row.state not in FINAL,
        detail=row.detail,
    )


def _scores(scores: dict[str, Any] | None) -> dict[str, float]:
    """The matrix's numbers of a fleet question (its policy name and weights left out)."""
    if not scores:
        return {}
    return {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}


def describe_workers(workers: list[tuple[str, str]]) -> str:
    """``2 workers: wA running, wB lost`` (the status line's part)."""
    if not workers:
        return "no worker yet: `harness fleet worker`"
    states = ", ".join(f"{wid} {state}" for wid, state in workers[:6])
    more = f", +{len(workers) - 6}" if len(workers) > 6 else ""
    return f"{len(workers)} worker(s): {states}{more}"
