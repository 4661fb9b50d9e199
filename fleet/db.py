"""The fleet's own tables (SQLAlchemy Core, on PostgreSQL or the embedded SQLite):

- ``harness_fleet_runs``: one row per run: its project, model, class, state, features,
  cost, the worker driving it, its drive number (DBOS workflow ids derive from it);
- ``harness_fleet_workers``: one row per worker id: heartbeat, class, version, state;
- ``harness_fleet_questions``: a parked run's questions, answered from any machine, with
  what the person answering needs: the agent's context, the escalation matrix's scores and
  the reason it asked (columns added to a database made before they existed, on SQLite
  and PostgreSQL alike: :data:`ADDED_COLUMNS`).

DBOS keeps its own tables (workflows, queues) in its schema; these say what a run *is*
(state, features, cost) for ``status``, which reads them in one query.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleet.place import FleetError
from harness.errors import StorageError
from harness.journal.postgres.pool import usable

if TYPE_CHECKING:
    import sqlalchemy as sa

    from fleet.place import Place

STATES = (
    "queued", "running", "parked", "publishing", "complete", "failed", "budget", "cancelled"
)  # fmt: skip
"""``publishing``: the run ended (complete, failed or budget: said once its branch is
pushed, ``fleet.drive.PUBLISHED_FIRST``)."""
TABLES_POOL = 2
TABLES_OVERFLOW = 4
"""A PostgreSQL fleet's connections for these tables per process: ``TABLES_POOL`` kept, up
to ``TABLES_OVERFLOW`` more while several of its threads use them at once (a worker's
beat, drives and DBOS's threads), those closed when given back."""
FINAL = ("complete", "failed", "budget", "cancelled")
SETTLED = ("answered", "approved", "denied")
"""A question's states once settled in the fleet, until delivered to the run's store."""


@dataclass
class RunRow:
    """One run of the fleet, as ``status --json`` prints it."""

    id: str
    project: str
    model: str = ""
    klass: str = "default"
    state: str = "queued"
    worker: str | None = None
    passing: int = 0
    total: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    detail: str = ""
    version: str = ""
    drive: int = 1
    base: str = ""
    branch: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self, current_version: str) -> dict[str, Any]:
        """The JSON object of ``status --json``."""
        return {
            "id": self.id,
            "project": self.project,
            "state": self.state,
            "features": {"passing": self.passing, "total": self.total},
            "worker": self.worker,
            "model": self.model,
            "class": self.klass,
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "detail": self.detail,
            "version": self.version,
            "stranded": self.version != current_version and self.state not in FINAL,
            "drive": self.drive,
            "branch": self.branch,
            "updated_at": self.updated_at,
        }


@dataclass
class WorkerRow:
    id: str
    klass: str
    host: str
    pid: int
    version: str
    runs: int
    heartbeat: float
    started_at: float
    state: str


@dataclass
class QuestionRow:
    run: str
    qid: str
    kind: str
    text: str
    choices: list[str]
    asked_at: str
    status: str = "pending"
    answer: str | None = None
    choice: int | None = None
    context: str = ""
    """What the agent said it knows and tried (the question's own context)."""
    scores: dict[str, Any] | None = None
    """The escalation matrix's scores that made it ask (``escalation.questions.Scores``);
    None when the question was asked without them (a gate, an older row)."""
    reason: str = ""
    """Why it was asked (the matrix's or the gate's words)."""


# Columns of harness_fleet_questions added after the table first shipped: (name, SQL type
# and default). A database made before them gets them when a FleetDb opens it.
ADDED_COLUMNS = (
    ("context", "TEXT NOT NULL DEFAULT ''"),
    ("scores", "TEXT"),
    ("reason", "TEXT NOT NULL DEFAULT ''"),
)


def _tables(sa_mod: Any) -> tuple[Any, Any, Any, Any]:
    sa = sa_mod
    meta = sa.MetaData()
    runs = sa.Table(
        "harness_fleet_runs",
        meta,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False, default=""),
        sa.Column("klass", sa.Text, nullable=False, default="default"),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("worker", sa.Text),
        sa.Column("passing", sa.Integer, nullable=False, default=0),
        sa.Column("total", sa.Integer, nullable=False, default=0),
        sa.Column("tokens", sa.BigInteger, nullable=False, default=0),
        sa.Column("cost_usd", sa.Float, nullable=False, default=0.0),
        sa.Column("detail", sa.Text, nullable=False, default=""),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("drive", sa.Integer, nullable=False, default=1),
        sa.Column("base", sa.Text, nullable=False, default=""),
        sa.Column("branch", sa.Text, nullable=False, default=""),
        sa.Column("extra", sa.Text, nullable=False, default="{}"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    workers = sa.Table(
        "harness_fleet_workers",
        meta,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("klass", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("heartbeat", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
    )
    questions = sa.Table(
        "harness_fleet_questions",
        meta,
        sa.Column("run", sa.Text, primary_key=True),
        sa.Column("qid", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("choices", sa.Text, nullable=False, default="[]"),
        sa.Column("asked_at", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, default="pending"),
        sa.Column("answer", sa.Text),
        sa.Column("choice", sa.Integer),
        sa.Column("answered_at", sa.Float),
        sa.Column("context", sa.Text, nullable=False, default=""),
        sa.Column("scores", sa.Text),
        sa.Column("reason", sa.Text, nullable=False, default=""),
    )
    return meta, runs, workers, questions


class FleetDb:
    """The fleet's tables in the fleet's database (created on first use)."""

    def __init__(self, place: Place) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.place = place
        kwargs: dict[str, Any] = {}
        if place.embedded:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=TABLES_POOL, max_overflow=TABLES_OVERFLOW)
        try:
            self.engine = sa.create_engine(place.tables_url(), **kwargs)
        except (ValueError, sa.exc.ArgumentError) as error:  # e.g. a port that is no number
            raise FleetError(
                f"{place.describe()}: not a valid PostgreSQL URL ({error}): give "
                "postgresql://USER@HOST[:PORT]/DATABASE"
            ) from error
        if place.embedded:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            sa.event.listen(self.engine, "checkout", _check_idle)
        self.meta, self.runs, self.workers, self.questions = _tables(sa)
        self._create()

    def _create(self) -> None:
        try:
            with self._begin() as conn:
                self.meta.create_all(conn, checkfirst=True)
        except StorageError:
            raise
        except self.sa.exc.SQLAlchemyError:  # another process made them at the same time
            with self._begin() as conn:
                self.meta.create_all(conn, checkfirst=True)
        self._add_columns()

    def _add_columns(self) -> None:
        """The questions table of a database made before :data:`ADDED_COLUMNS`: add them
        (``ALTER TABLE ... ADD COLUMN``, the same statement on SQLite and PostgreSQL), each
        in its own transaction: a process that added one first makes this one's fail, and
        the column is then there."""
        table = self.questions.name
        for name, kind in ADDED_COLUMNS:
            if name in self._columns(table):
                continue
            alter = self.sa.text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            try:
                with self.engine.begin() as conn:
                    conn.execute(alter)
            except self.sa.exc.SQLAlchemyError:
                if name in self._columns(table):
                    continue  # another process added it at the same time
                with self._begin() as conn:  # said as the database's own error
                    conn.execute(alter)

    def _columns(self, table: str) -> set[str]:
        with self._begin() as conn:
            return {column["name"] for column in self.sa.inspect(conn).get_columns(table)}

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except self.sa.exc.OperationalError as error:
            raise StorageError(
                self.place.describe(), "unreachable", str(error.orig).strip().splitlines()[0]
            ) from error

    def close(self) -> None:
        self.engine.dispose()

    # runs -------------------------------------------------------------------------------
    def add_run(self, row: RunRow) -> bool:
        """Insert the run; False (and nothing changed) if a run of that id exists."""
        now = time.time()
        values = {
            "id": row.id,
            "project": row.project,
            "model": row.model,
            "klass": row.klass,
            "state": row.state,
            "version": row.version,
            "drive": row.drive,
            "base": row.base,
            "branch": row.branch,
            "extra": json.dumps(row.extra),
            "created_at": now,
            "updated_at": now,
        }
        with self._begin() as conn:
            if conn.execute(self.sa.select(self.runs.c.id).where(self.runs.c.id == row.id)).first():
                return False
            try:
                conn.execute(self.runs.insert().values(**values))
            except self.sa.exc.IntegrityError:
                return False
        return True

    def run(self, run_id: str) -> RunRow | None:
        with self._begin() as conn:
            found = conn.execute(self.runs.select().where(self.runs.c.id == run_id)).mappings()
            row = found.first()
        return _run_row(row) if row else None

    def run_to_drive(self, run_id: str) -> tuple[RunRow | None, bool]:
        """The run's row, and whether answers given in the fleet wait to be delivered to its
        question store: one query (a drive asked for its questions each time, settled or
        not: a statement more for each of the hundreds of runs a worker takes over)."""
        questions = self.questions
        waiting = (
            self.sa.exists()
            .where(questions.c.run == self.runs.c.id)
            .where(questions.c.status.in_(SETTLED))
            .label("answers_waiting")
        )
        query = self.sa.select(self.runs, waiting).where(self.runs.c.id == run_id)
        with self._begin() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None, False
        values = dict(row)
        answers = bool(values.pop("answers_waiting"))
        return _run_row(values), answers

    def cancelled(self, run_ids: Collection[str]) -> set[str]:
        """Which of ``run_ids`` are cancelled: one query, however many (a worker asks
        every second for all the runs it drives)."""
        if not run_ids:
            return set()
        runs = self.runs
        found: set[str] = set()
        ids = sorted(run_ids)
        with self._begin() as conn:
            for start in range(0, len(ids), 500):  # within every database's bound on IN
                chunk = ids[start : start + 500]
                query = self.sa.select(runs.c.id).where(
                    runs.c.state == "cancelled", runs.c.id.in_(chunk)
                )
                found.update(conn.execute(query).scalars())
        return found

    def all_runs(self) -> list[RunRow]:
        with self._begin() as conn:
            rows = conn.execute(self.runs.select().order_by(self.runs.c.created_at)).mappings()
            return [_run_row(row) for row in rows]

    def update_run(
        self,
        run_id: str,
        *,
        only_if: Sequence[str] = (),
        at_drive: int | None = None,
        **values: Any,
    ) -> bool:
        """Set fields of a run (``only_if``: only when its state is one of these;
        ``at_drive``: only while its drive number is that one)."""
        if "extra" in values:
            values["extra"] = json.dumps(values["extra"])
        values["updated_at"] = time.time()
        query = self.runs.update().where(self.runs.c.id == run_id).values(**values)
        if only_if:
            query = query.where(self.runs.c.state.in_(list(only_if)))
        if at_drive is not None:
            query = query.where(self.runs.c.drive == at_drive)
        with self._begin() as conn:
            return bool(conn.execute(query).rowcount)

    def requeue_of(self, worker_id: str) -> int:
        """The runs a lost worker was driving are queued again, in one statement; how
        many. A run a live worker has started meanwhile (its drive recovered at once) is
        its own and left as it is."""
        query = (
            self.runs.update()
            .where(self.runs.c.worker == worker_id, self.runs.c.state == "running")
            .values(state="queued", worker=None, updated_at=time.time())
        )
        with self._begin() as conn:
            return int(conn.execute(query).rowcount)

    # workers ----------------------------------------------------------------------------
    def beat(self, row: WorkerRow) -> None:
        """Insert or refresh a worker's row (its heartbeat)."""
        values = row.__dict__.copy()
        with self._begin() as conn:
            done = conn.execute(
                self.workers.update().where(self.workers.c.id == row.id).values(**values)
            )
            if not done.rowcount:
                conn.execute(self.workers.insert().values(**values))

    def set_worker_state(self, worker_id: str, state: str, *, only_if: str | None = None) -> bool:
        query = self.workers.update().where(self.workers.c.id == worker_id)
        if only_if is not None:
            query = query.where(self.workers.c.state == only_if)
        with self._begin() as conn:
            return bool(conn.execute(query.values(state=state)).rowcount)

    def all_workers(self) -> list[WorkerRow]:
        with self._begin() as conn:
            rows = conn.execute(self.workers.select().order_by(self.workers.c.id)).mappings()
            return [WorkerRow(**dict(row)) for row in rows]

    # questions --------------------------------------------------------------------------
    def put_questions(self, rows: Sequence[QuestionRow]) -> None:
        """Record a parked run's pending questions (kept as they are if already there)."""
        with self._begin() as conn:
            for row in rows:
                key = (self.questions.c.run == row.run) & (self.questions.c.qid == row.qid)
                if conn.execute(self.sa.select(self.questions.c.qid).where(key)).first():
                    continue
                values = row.__dict__.copy()
                values["choices"] = json.dumps(row.choices)
                values["scores"] = None if row.scores is None else json.dumps(row.scores)
                conn.execute(self.questions.insert().values(**values))

    def questions_of(
        self, run_id: str | None = None, status: str | None = None
    ) -> list[QuestionRow]:
        query = self.questions.select().order_by(self.questions.c.asked_at)
        if run_id is not None:
            query = query.where(self.questions.c.run == run_id)
        if status is not None:
            query = query.where(self.questions.c.status == status)
        with self._begin() as conn:
            rows = conn.execute(query).mappings()
            return [_question_row(row) for row in rows]

    def settle_question(
        self, run_id: str, qid: str, status: str, answer: str | None, choice: int | None
    ) -> bool:
        """Answer a pending question; False if it is not pending (answered before)."""
        query = (
            self.questions.update()
            .where(self.questions.c.run == run_id)
            .where(self.questions.c.qid == qid)
            .where(self.questions.c.status == "pending")
            .values(status=status, answer=answer, choice=choice, answered_at=time.time())
        )
        with self._begin() as conn:
            return bool(conn.execute(query).rowcount)

    def mark_delivered(self, run_id: str, qid: str) -> None:
        query = (
            self.questions.update()
            .where(self.questions.c.run == run_id)
            .where(self.questions.c.qid == qid)
            .values(status="delivered")
        )
        with self._begin() as conn:
            conn.execute(query)


def _run_row(row: Any) -> RunRow:
    values = dict(row)
    values["extra"] = json.loads(values.get("extra") or "{}")
    return RunRow(**values)


def _question_row(row: Any) -> QuestionRow:
    values = dict(row)
    values.pop("answered_at", None)
    values["choices"] = json.loads(values.get("choices") or "[]")
    scores = json.loads(values.get("scores") or "null")
    values["scores"] = scores if isinstance(scores, dict) else None
    values["context"] = values.get("context") or ""
    values["reason"] = values.get("reason") or ""
    return QuestionRow(**values)


def _check_idle(conn: Any, _record: Any, _proxy: Any) -> None:
    """An idle connection the server closed since (a restart) is not lent: SQLAlchemy
    drops it and takes another (``DisconnectionError``). Its socket is looked at, no round
    trip (``harness.journal.postgres.pool.usable``): the ping of ``pool_pre_ping`` was a
    statement before each of the fleet's, a worker's beat and each run it takes over."""
    from sqlalchemy.exc import DisconnectionError

    if not usable(conn):
        raise DisconnectionError("the server closed this idle connection")


def _sqlite_pragmas(conn: Any, _record: Any) -> None:
    cursor = conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
