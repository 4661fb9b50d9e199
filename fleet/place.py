"""Where a fleet lives: its database (a PostgreSQL URL, or the embedded default) and its
folder on this machine (the embedded databases, the runs' work trees).

The fleet's database is ``--url URL``, else ``HARNESS_FLEET_URL``, else the embedded
default under the user's state folder (``$HARNESS_STATE_HOME/fleet``): SQLite for the
fleet's tables and for DBOS, so one machine tries the fleet with no server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ExitCode, HarnessError
from harness.journal.keys import state_home
from harness.journal.postgres.connect import safe_url, url_with_liveness

URL_VARIABLE = "HARNESS_FLEET_URL"
SCHEMES = ("postgresql://", "postgres://")


class FleetError(HarnessError):
    """A fleet command cannot do what it was asked (bad input: exit 2)."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class Place:
    """A fleet's database and this machine's folder for it."""

    url: str | None
    """The PostgreSQL URL (None: the embedded default, SQLite under ``home``)."""
    home: Path
    """This machine's folder of the fleet: embedded databases, work trees, worker logs."""

    @property
    def embedded(self) -> bool:
        return self.url is None

    def tables_url(self) -> str:
        """The SQLAlchemy URL of the fleet's own tables (PostgreSQL: with libpq's TCP
        liveness settings, as every journal connection has them)."""
        if self.url is None:
            return f"sqlite:///{self.home / 'fleet.db'}"
        return "postgresql+psycopg://" + url_with_liveness(self.url).split("://", 1)[1]

    def dbos_url(self) -> str:
        """DBOS's system database (DBOS keeps its tables in its own schema, ``dbos``;
        PostgreSQL: with libpq's TCP liveness settings, so DBOS's queue polls and steps do
        not hang for the kernel's ~15 minutes on a server gone silent)."""
        if self.url is None:
            return f"sqlite:///{self.home / 'dbos.sqlite'}"
        return url_with_liveness(self.url)

    def work_root(self) -> Path:
        """Where this machine's workers keep the runs' projects (one folder per run, shared
        by the workers of the machine: a run moved to another worker here goes on in place)."""
        return self.home / "work"

    def describe(self) -> str:
        if self.url is None:
            return f"the embedded fleet in {self.home}"

        return safe_url(self.url)


def fleet_place(url: str | None = None, environ: Mapping[str, str] | None = None) -> Place:
    """The fleet named by ``url`` (``--url``), else ``HARNESS_FLEET_URL``, else the embedded
    default; FleetError naming the flag or variable for a URL that is not PostgreSQL's."""

    environ = os.environ if environ is None else environ
    source = "--url"
    if not url:
        url, source = environ.get(URL_VARIABLE) or None, URL_VARIABLE
    home = Path(environ.get("HARNESS_FLEET_HOME") or state_home(environ) / "fleet")
    if url is not None and not url.startswith(SCHEMES):
        raise FleetError(
            f"{source}: {url.split('://', 1)[0]!r} is not a PostgreSQL URL: give "
            "postgresql://USER@HOST/DATABASE, or leave it unset for the embedded fleet "
            f"under {home}"
        )
    if url is None:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Place(url, home)
