"""A run's journal in a PostgreSQL fleet: a schema of its own in the fleet's database, its
key derived from the fleet's secret, its work-tree checkpoints in its blob store.

Every worker, on any machine, opens the same journal for a run: a drive recovered on
another machine replays its recorded steps there and pays for nothing twice. The secret
(:data:`SECRET_TABLE`, made once by the first process that needs it) is read by the workers
only: it is never printed, never in a run's environment, never in a journal row; each
journal's key is derived from it (``harness.journal.keys.DerivedKeys``). The embedded fleet
(one machine) keeps each run's SQLite journal in the run's folder, with the state folder's
key files, as `harness run` does.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from artifacts.git_safety import ConfigChecks
from artifacts.git_sweep import Sweep
from fleet.checkpoint import pack, tree_status
from fleet.project import Aside, inline
from harness.journal.keys import DerivedKeys
from harness.journal.location import Location
from harness.journal.postgres.connect import connect
from harness.journal.postgres.store import TableBlobs

if TYPE_CHECKING:
    from fleet.place import Place
    from harness.journal.postgres.connect import PgSql
    from harness.journal.postgres.pool import Pool, PooledSql


SECRET_TABLE = "harness_fleet_secret"
CHECKPOINT_TABLE = "harness_checkpoint"  # in the run's schema, beside its journal
SECRET_NAME = "journal-keys"
_LOCK = 0x666C656574  # "fleet": one process makes the secret's table at a time


def schema_of(run_id: str) -> str:
    """The run's schema: its id made a PostgreSQL name, and a digest (ids that differ only
    in case or punctuation never share one)."""
    name = re.sub(r"[^a-z0-9_]", "_", run_id.lower())[:40]
    return f"run_{name}_{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


def schema_url(url: str, schema: str) -> str:
    """The fleet's URL with the run's schema first on the search path (its ``options``
    query parameter; the rest of the URL, its password included, as it was)."""

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "options"]
    options = dict(parse_qsl(parts.query)).get("options", "")
    query.append(("options", f"{options} -csearch_path={schema}".strip()))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _connect(url: str) -> PgSql:

    return connect(url)


def fleet_secret(url: str) -> bytes:
    """The fleet's secret that journal keys derive from, made at first use."""
    sql = _connect(url)
    try:
        with sql.batch():
            sql.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
            sql.execute(
                f"CREATE TABLE IF NOT EXISTS {SECRET_TABLE} "
                "(name text PRIMARY KEY, value bytea NOT NULL)"
            )
            sql.execute(
                f"INSERT INTO {SECRET_TABLE} (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (SECRET_NAME, secrets.token_bytes(32)),
            )
        row = sql.execute(
            f"SELECT value FROM {SECRET_TABLE} WHERE name = ?", (SECRET_NAME,)
        ).fetchone()
    finally:
        sql.close()
    assert row is not None
    return bytes(row[0])


class RunJournals:
    """Where each run of a PostgreSQL fleet keeps its journal and checkpoints; with a
    ``pool`` (a worker's), every run's journal, questions and checkpoints share its
    connections (``harness.journal.postgres.pool``)."""

    def __init__(self, place: Place, pool: Pool | None = None) -> None:

        assert place.url is not None, "the embedded fleet keeps SQLite journals per run"
        self.url = place.url
        self.pool = pool
        self.keys = DerivedKeys(fleet_secret(place.url))
        self._made: set[str] = set()
        """Schemas this process made or found (a run's schema is never dropped): a drive
        asks once, not under the fleet-wide lock at every prepare and drive."""
        self._tables: set[str] = set()
        """The URLs of the runs' journals whose checkpoint table this process made or
        found (never dropped): their last checkpoint is read in one statement."""

    def _sql(self, url: str) -> PgSql | PooledSql:
        return self.pool.sql(url) if self.pool is not None else _connect(url)

    def location(self, run_id: str, project: Path) -> Location:
        """The run's journal (its schema made if absent): the same on every machine."""

        schema = schema_of(run_id)
        url = schema_url(self.url, schema)
        if schema not in self._made:
            # One round trip: the statements of one simple query are one transaction, so
            # the lock is held until the schema and its checkpoint table are made (a
            # transaction of its own was four: BEGIN, the lock, CREATE, COMMIT). On the
            # run's search path (the names are qualified): the run's next statements find
            # a connection already on it, not switched there by one more.
            sql = self._sql(url)
            try:
                sql.execute(
                    f"SELECT pg_advisory_xact_lock({_LOCK}); "
                    f'CREATE SCHEMA IF NOT EXISTS "{schema}"; '
                    + _CHECKPOINT_DDL.replace(CHECKPOINT_TABLE, f'"{schema}".{CHECKPOINT_TABLE}')
                )
            finally:
                sql.close()
            self._made.add(schema)
            self._tables.add(url)
        return Location(
            project / ".harness",
            url=url,
            project=f"harness-fleet-run:{run_id}",
            keys=self.keys,
            pool=self.pool,
        )

    def checkpoint(self, where: Location, data: bytes, head: str) -> str:
        """Keep ``data`` in the run's blob store and name it the run's checkpoint, in one
        transaction; its digest. StorageError when the database cannot be reached."""

        sql = self._sql(where.url or "")
        try:
            with sql.batch():
                if where.url not in self._tables:
                    _checkpoint_table(sql)
                digest = TableBlobs(sql).put(data)
                sql.execute(
                    f"INSERT INTO {CHECKPOINT_TABLE} (id, head, blob, size, at) "
                    "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET head = "
                    "excluded.head, blob = excluded.blob, size = excluded.size, at = excluded.at",
                    (head, digest, len(data), time.time()),
                )
        finally:
            sql.close()
        return digest

    def latest(self, where: Location) -> bytes | None:
        """The run's last checkpoint (checked against its digest), None if it has none."""
        digest = self.latest_digest(where)
        return None if digest is None else self.load(where, digest)

    def latest_digest(self, where: Location) -> str | None:
        """The digest of the run's last checkpoint (None: it has none)."""
        sql = self._sql(where.url or "")
        try:
            if where.url not in self._tables:  # a journal not opened by location()
                found = sql.execute(f"SELECT to_regclass('{CHECKPOINT_TABLE}')").fetchone()
                if not found or found[0] is None:
                    return None
            row = sql.execute(f"SELECT blob FROM {CHECKPOINT_TABLE} WHERE id = 1").fetchone()
            return None if row is None else str(row[0])
        finally:
            sql.close()

    def load(self, where: Location, digest: str) -> bytes:
        """A checkpoint's bytes, checked against its digest (JournalDamaged if not)."""

        sql = self._sql(where.url or "")
        try:
            return TableBlobs(sql).get(digest)
        finally:
            sql.close()


class RunCheckpoints:
    """One run's checkpoints, as a machine's run folder reads them (``fleet.project``)."""

    def __init__(self, journals: RunJournals, where: Location) -> None:
        self.journals = journals
        self.where = where

    def latest_digest(self) -> str | None:
        return self.journals.latest_digest(self.where)

    def load(self, digest: str) -> bytes:
        return self.journals.load(self.where, digest)


_CHECKPOINT_DDL = (
    f"CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (id integer PRIMARY KEY CHECK (id = 1), "
    "head text NOT NULL, blob text NOT NULL, size bigint NOT NULL, "
    "at double precision NOT NULL)"
)


def _checkpoint_table(sql: PgSql | PooledSql) -> None:
    sql.execute(_CHECKPOINT_DDL)


class Checkpointer:
    """Called around a run's live steps (``fleet.drive.StopHooks``): if the work tree or
    HEAD changed since the last checkpoint, checkpoint it, before the step's end is
    journaled (a machine lost before that re-runs the step on the restored tree). A
    database that cannot be reached raises StorageError there: the step is left in flight
    and the run waits, rather than going on with an edit only this disk holds."""

    def __init__(
        self, journals: RunJournals, where: Location, root: Path, base: str, mark: Path,
        aside: Aside | None = None,
    ) -> None:  # fmt: skip
        self.journals = journals
        self.aside: Aside = aside or inline
        """Where its git runs (``fleet.drives.Drives.aside``: parked off the drive thread)."""
        self.where = where
        self.root = root
        self.base = base
        self.mark = mark
        """This folder's note of the last checkpoint it took (``RunFolder.mark``)."""
        self.last = ""
        self.taken = 0
        self.said: set[str] = set()  # files said too large to carry
        self.sweep = Sweep(root)  # git's blockers, not where git never reads
        self.checks = ConfigChecks()  # the clone's config checked, again when it changes

    def __call__(self) -> None:

        status = self.aside(lambda: tree_status(self.root, self.sweep, self.checks))
        mark = status.mark
        if mark == self.last:
            return
        if not self.last and self._as_marked(mark):
            self.last = mark
            return
        packed = self.aside(lambda: pack(self.root, self.base, self.sweep, self.checks, status))
        for path, size in packed.left_out:
            if path not in self.said:
                self.said.add(path)
                print(
                    f"harness fleet: {self.root}: {path} ({size:,} bytes) is too large to "
                    "checkpoint: another machine taking this run over will not have it",
                    flush=True,
                )
        digest = self.journals.checkpoint(self.where, packed.data, packed.head)
        self.mark.write_text(f"{digest} {mark}\n")
        self.last = mark
        self.taken += 1

    def _as_marked(self, mark: str) -> bool:
        """The tree is as it was when this folder took its last checkpoint, and that is
        still the run's latest (a drive going on where this machine's last one stopped):
        nothing to take. Before, each drive packed and stored the tree at its first step,
        unchanged or not (~55 ms of git and CPU per run taken over, before its model call)."""

        try:
            digest, _, kept = self.mark.read_text().strip().partition(" ")
        except FileNotFoundError:
            return False
        return kept == mark and digest == self.journals.latest_digest(self.where)
