"""The escalation record: outcomes of past decisions and the fits made from them (SQLite).

One schema, two files:

- the **project record**, ``.harness/escalation.db``: this project's outcomes and fits, and
  its id (``meta.project``); it travels with the project's state (`harness state
  save/load`), so the weights in force and what they rest on move with it;
- the **user record**, ``<state home>/escalation/outcomes.db`` beside the journal keys
  (``harness.journal.keys.state_home``): the outcomes of every project of this user,
  keyed by project; it outlives the projects and is the prior of a new one.

Outcomes are keyed by (project, decision reference) and written with ``INSERT OR IGNORE``:
settling a session twice (a resumed writeback) records nothing twice. Rows are never
updated or deleted, so "the rows up to id N" names a fixed set: a fit records the ids it
read (its checkpoint) and a resumed fit reads the same rows.

A later session can show that an earlier decision should have asked (``escalation.relabel``):
that goes to its own table, ``relabels`` (once per outcome, never undone), and every reader
takes an outcome's label as should-ask when it was so recorded or relabelled by a row up to
the id it is given (a fit's checkpoint names that id too). The project record also keeps
each decision's ``windows`` (the files it let change and their digests before) and
``sketches`` (the sparse hashed embedding of its situation): they stay in the project, the
user record gets the relabels (outcome key and reason), never paths or sketches.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from escalation.outcomes import Outcome
from harness.errors import ExitCode, HarnessError

PROJECT_FILE = "escalation.db"
USER_DIR = "escalation"
USER_FILE = "outcomes.db"
BINS = 20
ALL = 2**62
"""Relabels up to this id: all of them."""
_LABEL = (
    "(CASE WHEN should_ask = 1 OR EXISTS (SELECT 1 FROM relabels r WHERE r.project = "
    "outcomes.project AND r.key = outcomes.key AND r.id <= ?) THEN 1 ELSE 0 END)"
)
"""An outcome's label: should-ask as recorded, or relabelled so (up to a relabel id)."""
"""The fit reads outcomes grouped by their scores rounded to 1/BINS (0.05): its cost is
bounded by the number of distinct cells (at most 21³ = 9,261), not by the record's length."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    topic TEXT NOT NULL,
    task_type TEXT NOT NULL,
    situation TEXT NOT NULL,
    run TEXT,
    session INTEGER,
    uncertainty REAL NOT NULL,
    novelty REAL NOT NULL,
    benefit REAL NOT NULL,
    asked INTEGER NOT NULL,
    should_ask INTEGER NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (project, key)
);
CREATE INDEX IF NOT EXISTS outcomes_topic ON outcomes(project, source, topic, task_type);
CREATE TABLE IF NOT EXISTS fits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (project, key)
);
CREATE TABLE IF NOT EXISTS windows (
    project TEXT NOT NULL,
    key TEXT NOT NULL,
    path TEXT NOT NULL,
    before TEXT,
    PRIMARY KEY (project, key, path)
);
CREATE TABLE IF NOT EXISTS sketches (
    project TEXT NOT NULL,
    key TEXT NOT NULL,
    vector TEXT NOT NULL,
    PRIMARY KEY (project, key)
);
CREATE TABLE IF NOT EXISTS relabels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    key TEXT NOT NULL,
    reason TEXT NOT NULL,
    run TEXT,
    session INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (project, key)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    project TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (project, key)
);
"""


class RecordError(HarnessError):
    """The escalation record cannot be opened or written (path and reason in the message)."""

    exit_code = ExitCode.FAILED


@dataclass(frozen=True)
class Cell:
    """Outcomes whose (uncertainty, novelty, benefit) round to the same point."""

    u: float
    n: float
    b: float
    positives: int
    """Outcomes in the cell that should have asked."""
    total: int


@dataclass(frozen=True)
class Counts:
    """Answered escalations of one kind: how many mattered (the human did not just agree)."""

    mattered: int
    total: int


def user_record_path(state_home: Path) -> Path:
    """The user record's file under the user's harness state directory."""
    return state_home / USER_DIR / USER_FILE


class Record:
    """Outcomes and fits in one SQLite file (the project's or the user's)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA busy_timeout=10000")
            # Rollback journal, not WAL: a record is written once a session, and an open
            # connection then leaves no -wal/-shm files beside it (nothing to carry, strand
            # or see vanish when a process lets go of it).
            self._db.execute("PRAGMA journal_mode=DELETE")
            with self._lock:
                self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise RecordError(f"cannot open the escalation record {self.path}: {error}") from error

    @classmethod
    def of_project(cls, state_dir: Path) -> Record:
        """The project record in the project's ``.harness/``."""
        return cls(Path(state_dir) / PROJECT_FILE)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise RecordError(f"cannot write {self.path}: {error}") from error
            try:
                yield
            except sqlite3.Error as error:
                self._db.execute("ROLLBACK")
                raise RecordError(f"cannot write {self.path}: {error}") from error
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise RecordError(f"cannot write {self.path}: {error}") from error

    # -- identity ------------------------------------------------------------------------
    def project_id(self) -> str:
        """This record's project id, made on first use (the project record's own)."""
        found = self._db.execute("SELECT value FROM meta WHERE name='project'").fetchone()
        if found is not None:
            return str(found[0])
        with self._write():
            self._db.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('project', ?)",
                (uuid.uuid4().hex[:16],),
            )
        return str(self._db.execute("SELECT value FROM meta WHERE name='project'").fetchone()[0])

    # -- outcomes ------------------------------------------------------------------------
    def add(self, project: str, outcomes: Iterable[Outcome]) -> int:
        """Keep ``outcomes`` of ``project``; those already kept are left alone. Returns
        how many were new."""
        now = datetime.now(UTC).isoformat()
        added = 0
        with self._write():
            for o in outcomes:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO outcomes (project, key, source, topic, task_type, "
                    "situation, run, session, uncertainty, novelty, benefit, asked, should_ask, "
                    "data, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        project,
                        o.key,
                        o.source,
                        o.topic,
                        o.task_type,
                        o.situation,
                        o.run,
                        o.session,
                        o.uncertainty,
                        o.novelty,
                        o.benefit,
                        int(o.asked),
                        int(o.should_ask),
                        o.model_dump_json(),
                        now,
                    ),
                )
                added += cursor.rowcount
        return added

    def outcomes(self, project: str | None = None) -> list[Outcome]:
        """Every outcome (of ``project``), oldest first, relabels applied."""
        sql = (
            "SELECT o.data, r.reason FROM outcomes o LEFT JOIN relabels r "
            "ON r.project = o.project AND r.key = o.key"
        )
        args: tuple[str, ...] = ()
        if project is not None:
            sql, args = sql + " WHERE o.project=?", (project,)
        found = []
        for data, reason in self._db.execute(sql + " ORDER BY o.id", args):
            outcome = Outcome.model_validate_json(data)
            if reason is not None:
                outcome = outcome.model_copy(update={"should_ask": True, "relabeled": reason})
            found.append(outcome)
        return found

    def last_id(self) -> int:
        """The id of the newest outcome (0 when there is none)."""
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM outcomes").fetchone()[0])

    def cells(
        self,
        *,
        up_to: int,
        project: str | None = None,
        other_than: str | None = None,
        newest: int | None = None,
        relabels: int = ALL,
        fold: int | None = None,
        exact: bool = False,
    ) -> list[Cell]:
        """The matrix's outcomes (gates left out) with id <= ``up_to``, grouped by rounded
        scores, in a fixed order: of ``project`` only, or of every project but ``other_than``;
        with ``newest``, only the newest that many of them; with ``fold`` (0 or 1), only those
        of even or odd id (two halves for a cross-check); labelled with the relabels whose id
        is <= ``relabels``. With ``exact``, grouped by their exact scores, as the matrix
        decides on them (a threshold is chosen on these: on rounded ones it asks on another
        count of decisions than it was chosen for)."""
        where, args = _scope(up_to, project, other_than)
        if fold is not None:
            where, args = f"{where} AND id % 2 = ?", [*args, fold]
        if newest is not None:
            newest_ids = f"SELECT id FROM outcomes WHERE {where} ORDER BY id DESC LIMIT ?"
            where = f"{where} AND id IN ({newest_ids})"
            args = [*args, *args, newest]
        scores = (
            "uncertainty, novelty, benefit"
            if exact
            else f"ROUND(uncertainty * {BINS}) / {BINS}, ROUND(novelty * {BINS}) / {BINS}, "
            f"ROUND(benefit * {BINS}) / {BINS}"
        )
        sql = (
            f"SELECT {scores}, SUM({_LABEL}), COUNT(*) FROM outcomes "
            f"WHERE {where} "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        rows = self._db.execute(sql, [relabels, *args])
        return [Cell(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]

    def sessions(
        self, *, up_to: int, project: str | None = None, other_than: str | None = None
    ) -> int:
        """How many sessions the matrix's outcomes (same scope as ``cells``) come from."""
        where, args = _scope(up_to, project, other_than)
        sql = (
            "SELECT COUNT(DISTINCT project || '/' || run || '/' || session) FROM outcomes "
            f"WHERE {where}"
        )
        return int(self._db.execute(sql, args).fetchone()[0])

    def projects(self, *, up_to: int, other_than: str | None = None) -> int:
        """How many projects the record holds outcomes of."""
        where, args = _scope(up_to, None, other_than)
        sql = f"SELECT COUNT(DISTINCT project) FROM outcomes WHERE {where}"
        return int(self._db.execute(sql, args).fetchone()[0])

    def answered(
        self,
        topic: str,
        *,
        task_type: str | None = None,
        project: str | None = None,
        other_than: str | None = None,
    ) -> Counts:
        """Asked (and answered) decisions of ``topic`` (and ``task_type``) and how many of
        their answers mattered: what intervention benefit is estimated from."""
        sql = (
            "SELECT COALESCE(SUM(should_ask), 0), COUNT(*) FROM outcomes "
            "WHERE asked=1 AND source != 'gate' AND topic=?"
        )
        args: list[Any] = [topic]
        if task_type is not None:
            sql += " AND task_type=?"
            args.append(task_type)
        if project is not None:
            sql += " AND project=?"
            args.append(project)
        if other_than is not None:
            sql += " AND project!=?"
            args.append(other_than)
        row = self._db.execute(sql, args).fetchone()
        return Counts(int(row[0]), int(row[1]))

    # -- labels from later sessions (``escalation.relabel``) --------------------------------
    def keep_windows(self, project: str, windows: dict[str, dict[str, str | None]]) -> None:
        """Keep each decision's window: the files it let change, digests before (once)."""
        with self._write():
            for key, files in windows.items():
                for path, before in files.items():
                    self._db.execute(
                        "INSERT OR IGNORE INTO windows (project, key, path, before) "
                        "VALUES (?,?,?,?)",
                        (project, key, path, before),
                    )

    def keep_sketches(self, project: str, sketches: dict[str, dict[int, float]]) -> None:
        """Keep each decision's sketch: its situation's sparse hashed embedding (once)."""
        with self._write():
            for key, vector in sketches.items():
                self._db.execute(
                    "INSERT OR IGNORE INTO sketches (project, key, vector) VALUES (?,?,?)",
                    (project, key, json.dumps(sorted(vector.items()))),
                )

    def open_windows(
        self, project: str, run: str, session: int
    ) -> dict[str, dict[str, str | None]]:
        """The windows of the unasked decisions before ``run``'s ``session`` (its earlier
        sessions, and the project's earlier runs) still labelled "need not have asked" (or
        relabelled by that very session: a settling run again finds what it found)."""
        found: dict[str, dict[str, str | None]] = {}
        for key, path, before in self._open("windows", "w.path, w.before", project, run, session):
            found.setdefault(key, {})[path] = before
        return found

    def open_sketches(self, project: str, run: str, session: int) -> dict[str, dict[int, float]]:
        """The sketches of the same decisions as ``open_windows``."""
        return {
            key: {int(i): float(v) for i, v in json.loads(vector)}
            for key, vector in self._open("sketches", "w.vector", project, run, session)
        }

    def _open(
        self, table: str, columns: str, project: str, run: str, session: int
    ) -> list[tuple[Any, ...]]:
        """Earlier decisions: of ``run``'s sessions before ``session``, and of the project's
        other runs recorded before ``session``'s first outcome (all of them when it has
        none), so a settling run again reads the same rows."""
        first = self._db.execute(
            "SELECT MIN(id) FROM outcomes WHERE project = ? AND run = ? AND session = ?",
            (project, run, session),
        ).fetchone()[0]
        before = first if first is not None else self.last_id() + 1
        sql = (
            f"SELECT o.key, {columns} FROM outcomes o JOIN {table} w "
            "ON w.project = o.project AND w.key = o.key LEFT JOIN relabels r "
            "ON r.project = o.project AND r.key = o.key "
            "WHERE o.project = ? AND ((o.run = ? AND o.session < ?) "
            "OR (o.run IS NOT ? AND o.id < ?)) AND o.asked = 0 "
            "AND o.should_ask = 0 AND (r.id IS NULL OR (r.run = ? AND r.session = ?)) "
            "ORDER BY o.id"
        )
        args = (project, run, session, run, before, run, session)
        return list(self._db.execute(sql, args))

    def relabel(self, project: str, reasons: dict[str, str], run: str, session: int) -> int:
        """Relabel ``project``'s outcomes (by key) should-ask, saying why; those already
        relabelled are left alone. Returns how many were new."""
        now = datetime.now(UTC).isoformat()
        added = 0
        with self._write():
            for key, reason in reasons.items():
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO relabels (project, key, reason, run, session, "
                    "created_at) VALUES (?,?,?,?,?,?)",
                    (project, key, reason, run, session, now),
                )
                added += cursor.rowcount
        return added

    def last_relabel(self) -> int:
        """The id of the newest relabel (0 when there is none)."""
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM relabels").fetchone()[0])

    # -- fits ----------------------------------------------------------------------------
    def checkpoint(self, project: str, key: str, start: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint of fit ``key``: ``start`` when the fit begins, the stored one when
        a killed fit resumes (so it reads the same rows)."""
        with self._write():
            self._db.execute(
                "INSERT OR IGNORE INTO checkpoints (project, key, data) VALUES (?,?,?)",
                (project, key, json.dumps(start, sort_keys=True)),
            )
            row = self._db.execute(
                "SELECT data FROM checkpoints WHERE project=? AND key=?", (project, key)
            ).fetchone()
        return dict(json.loads(row[0]))

    def commit_fit(self, project: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
        """Keep fit ``key`` and drop its checkpoint in one transaction; a fit already kept
        under ``key`` wins (a rerun after a crash returns what was committed)."""
        with self._write():
            self._db.execute(
                "INSERT OR IGNORE INTO fits (project, key, data, created_at) VALUES (?,?,?,?)",
                (project, key, json.dumps(data, sort_keys=True), datetime.now(UTC).isoformat()),
            )
            self._db.execute("DELETE FROM checkpoints WHERE project=? AND key=?", (project, key))
            row = self._db.execute(
                "SELECT data FROM fits WHERE project=? AND key=?", (project, key)
            ).fetchone()
        return dict(json.loads(row[0]))

    def drop_checkpoint(self, project: str, key: str) -> None:
        """Forget fit ``key``'s checkpoint (the fit found too few outcomes to keep)."""
        with self._write():
            self._db.execute("DELETE FROM checkpoints WHERE project=? AND key=?", (project, key))

    def fits(self, project: str) -> list[dict[str, Any]]:
        """The fits kept for ``project``, oldest first (each with its key and time)."""
        rows = self._db.execute(
            "SELECT key, data, created_at FROM fits WHERE project=? ORDER BY id", (project,)
        )
        return [{**json.loads(r[1]), "key": r[0], "created_at": r[2]} for r in rows]

    def current_fit(self, project: str) -> dict[str, Any] | None:
        """The newest fit of ``project`` (None before the first)."""
        row = self._db.execute(
            "SELECT data FROM fits WHERE project=? ORDER BY id DESC LIMIT 1", (project,)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))


def _scope(up_to: int, project: str | None, other_than: str | None) -> tuple[str, list[Any]]:
    where, args = "source != 'gate' AND id <= ?", [up_to]  # type: tuple[str, list[Any]]
    if project is not None:
        where, args = where + " AND project = ?", [*args, project]
    if other_than is not None:
        where, args = where + " AND project != ?", [*args, other_than]
    return where, args
