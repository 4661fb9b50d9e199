"""Where a project's journal lives, and where a reader's backend is chosen (a writer's:
``Journal.open``).

- SQLite (the embedded default): ``<project>/.harness/journal.db``, blob files and run
  lock files beside it;
- PostgreSQL: ``[journal] url = "postgresql://..."`` (or ``HARNESS_JOURNAL_URL``): every
  table, the blobs and the run locks (advisory locks) in that database;
- memory: a :class:`~harness.journal.memory.MemoryDatabase` of this process (the fake that
  unit tests use).

In every case the chain's key stays out of the journal: in the key file (``keys``), or
derived from a secret its ``keys`` source holds (a fleet's), never in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harness.errors import JournalError
from harness.journal.keys import KEY_FILES
from harness.journal.sqlite.store import SqliteReader, db_path
from harness.journal.sqlite.store import exists as sqlite_exists

if TYPE_CHECKING:
    from harness.journal.keys import KeySource
    from harness.journal.memory import MemoryDatabase
    from harness.journal.postgres.pool import Pool
    from harness.journal.protocol import JournalReader

Kind = Literal["sqlite", "postgres", "memory"]


@dataclass(frozen=True)
class Location:
    """Where a journal is: a state folder, and a database URL or an in-memory database."""

    state_dir: Path
    url: str | None = None
    memory: MemoryDatabase | None = field(default=None, compare=False)
    project: str = ""
    """What a shared database's journal belongs to (the project's folder by default): a
    PostgreSQL journal opened for another project is refused, never mixed."""
    keys: KeySource | None = field(default=None, compare=False, repr=False)
    """Where the chain's key comes from (None: the key files of this machine)."""
    pool: Pool | None = field(default=None, compare=False, repr=False)
    """The process's PostgreSQL connections shared by every journal it opens on that server
    (a fleet worker's runs: ``harness.journal.postgres.pool``); None: one connection each."""

    def key_source(self) -> KeySource:

        return self.keys if self.keys is not None else KEY_FILES

    @property
    def backend(self) -> Kind:
        if self.memory is not None:
            return "memory"
        return "postgres" if self.url else "sqlite"

    def files(self) -> list[Path]:
        """The files whose change means the journal changed (none for a database)."""
        if self.backend != "sqlite":
            return []

        path = db_path(self.state_dir)
        return [path, path.with_name(path.name + "-wal")]

    def describe(self) -> str:
        """The journal named for messages (a URL without its password)."""
        if self.backend == "postgres":
            # lazy: the PostgreSQL modules load only for a PostgreSQL journal
            from harness.journal.postgres.connect import safe_url  # noqa: PLC0415

            return safe_url(self.url or "")
        if self.backend == "memory":
            return "the in-memory journal"

        return str(db_path(self.state_dir))


def as_location(where: Location | Path | str) -> Location:
    return where if isinstance(where, Location) else Location(Path(where))


def journal_exists(where: Location | Path | str) -> bool:
    """Whether there is a journal there (without creating one)."""
    where = as_location(where)
    if where.backend == "memory":
        assert where.memory is not None
        return where.memory.exists
    if where.backend == "postgres":
        # lazy: only the backend in use loads (PostgreSQL: psycopg)
        from harness.journal.postgres.store import exists  # noqa: PLC0415

        return exists(where)

    return sqlite_exists(where.state_dir)


def open_reader(where: Location | Path | str) -> JournalReader:
    """The project's journal, read-only: never blocks a writer, never writes."""
    where = as_location(where)
    if where.backend == "memory":
        # lazy: only the backend in use loads
        from harness.journal.memory import MemoryReader  # noqa: PLC0415

        assert where.memory is not None
        if not where.memory.exists:
            raise JournalError("no journal in memory: nothing has run with it yet")
        return MemoryReader(where.memory)
    if where.backend == "postgres":
        # lazy: only the backend in use loads (PostgreSQL: psycopg)
        from harness.journal.postgres.store import PostgresReader  # noqa: PLC0415

        return PostgresReader.open(where)

    return SqliteReader(where.state_dir)
