"""A real PostgreSQL server for the tests: its own data folder, private socket folder and port.

Started once per test session (``pg_server``), stopped at its end. ``initdb`` and ``pg_ctl``
run as the ``postgres`` user when the tests run as root (initdb refuses root), else as the
current user. Each test gets its own schema (``pg_url``), so tests never see each other's
rows. Where the binaries are missing the tests that need the server skip, saying why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")


def find_bin() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian's packaged layout first), else None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for pattern in BIN_GLOBS:
        for folder in sorted(glob.glob(pattern), reverse=True):
            if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
                return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL server in a temporary folder, on a unix socket (and ``address``)."""

    def __init__(self, bindir: Path, base: Path, *, address: str = "") -> None:
        self.address = address  # a TCP address to listen on as well ("": none)
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.sockets = base / "sock"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        self.sockets.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = (
            f"-k {self.sockets} -p {self.port} -c listen_addresses='{self.address}' -c fsync=on"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, database: str = "postgres", **settings: str) -> str:
        """A URL to ``database`` on this server, with server settings for the session
        (``search_path``, ``synchronous_commit``: libpq's one ``options`` parameter)."""
        host = self.address or self.sockets
        url = f"postgresql://postgres@/{database}?host={host}&port={self.port}"
        if settings:
            url += "&options=" + "%20".join(f"-c{k}%3D{v}" for k, v in settings.items())
        return url

    def new_schema(self, **settings: str) -> str:
        """A fresh schema; a URL whose search_path is it (one test's own journal)."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.url(search_path=name, **settings)


def unavailable() -> str | None:
    """Why no server can be started here (None: it can)."""
    if find_bin() is None:
        return "PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    return None


def _server() -> Iterator[PgServer]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    bindir = find_bin()
    assert bindir is not None
    base = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    server = PgServer(bindir, base)
    try:
        server.init()
        server.start()
    except subprocess.CalledProcessError as error:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {error.stderr.strip()[-300:]}")
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The test session's PostgreSQL server (skips with the reason where none can start)."""
    yield from _server()


@pytest.fixture
def own_pg_server() -> Iterator[PgServer]:
    """A server of this test's own, which it may stop and start again."""
    yield from _server()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A URL to a schema of this test's own on the session's server."""
    return pg_server.new_schema()
