"""Fleets for the tests: a real PostgreSQL database of each test's own (or the embedded
default), worker processes started as `harness fleet worker` whose runs answer scripted
models in process (`tests/session/scripted_child.py`: no litellm in the worker), scripted
projects whose model answers after a simulated latency."""

from __future__ import annotations

import json
import locale
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fleet.app import Client, app_version, migrate
from fleet.db import FleetDb
from fleet.place import Place, fleet_place
from fleet.project import source_of
from fleet.runjournal import schema_of, schema_url
from fleet.submit import submit
from harness.journal.keys import KeyFiles, state_home
from harness.journal.location import Location
from harness.journal.protocol import open_reader
from harness.journal.verify import verify as verify_journal
from tests.session.scripted_child import ENTRY
from tests.session.support import harness, make_project

LATENCY_S = 0.2  # every scripted model answer waits this long (a simulated provider)


def scripted_project(
    root: Path,
    *,
    count: int = 2,
    latency_s: float = LATENCY_S,
    sessions: dict[int, list[dict[str, Any]]] | None = None,
) -> Path:
    """An initialized project (2 features, local runner) whose model answers slowly."""

    make_project(root, count=count, sessions=sessions)
    script = json.loads((root / "script.json").read_text())
    script["latency_s"] = 0.0
    (root / "script.json").write_text(json.dumps(script))
    assert harness(root, "init", "--spec", str(root / "SPEC.md")) == 0
    script["latency_s"] = latency_s  # committed below: the fleet clones the repository
    (root / "script.json").write_text(json.dumps(script))
    _git(root, "add", "script.json")
    _git(root, "commit", "-q", "--allow-empty", "-m", "slow scripted model")
    return root


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def one_commit_source(tmp_path: Path) -> tuple[Path, str]:
    """A project to run: a git repository of one commit; its path and that commit."""
    source = tmp_path / "source"
    source.mkdir()
    for args in (["init", "-q"], ["config", "user.name", "U"], ["config", "user.email", "u@x"]):
        _git(source, *args)
    (source / "a.txt").write_text("base\n")
    _git(source, "add", "-A")
    _git(source, "commit", "-qm", "base")
    return source, _git(source, "rev-parse", "HEAD").strip()


def new_database(server: Any) -> str:
    """A fresh database on the test session's server: a URL to it. It is a copy of the
    server's template (:func:`_template`): DBOS's tables made, nothing of the fleet's."""
    import psycopg

    name = "fleet_" + uuid.uuid4().hex[:10]
    template = _template(server)
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return str(server.url(database=name))


def _template(server: Any) -> str:
    """The server's template database, made at its first use: DBOS's tables, made by the
    fleet's own ``fleet.app.migrate`` as a fleet's first process makes them (on a fresh
    database each test's first process spent ~0.5 CPU-s, its own and the server's, and
    seconds of wall time on a loaded machine migrating DBOS's tables). Its connections
    are closed and it takes no new one, as ``CREATE DATABASE ... TEMPLATE`` needs."""
    import psycopg

    name = getattr(server, "fleet_template", None)
    if name is not None:
        return str(name)
    name = "fleet_template_" + uuid.uuid4().hex[:8]
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
        migrate(Place(server.url(database=name), Path(tempfile.mkdtemp(prefix="fleet-tpl-"))))
        conn.execute(f"ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
    server.fleet_template = name
    return name


class Fleet:
    """`harness fleet` commands of one fleet, and its worker processes."""

    def __init__(self, url: str | None, home: Path, env: dict[str, str]) -> None:
        self.url = url
        self.home = home
        self.env = {**os.environ, **env, "HARNESS_FLEET_HOME": str(home)}
        if url:
            self.env["HARNESS_FLEET_URL"] = url
        self.workers: dict[str, subprocess.Popen[str]] = {}
        self._db: FleetDb | None = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "harness", "fleet", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def submit(self, source: Path, *run_ids: str, klass: str = "default") -> None:
        """The runs submitted as `harness fleet submit SOURCE --id RUN_ID [--class K]`
        does (``fleet.submit.submit`` with one database and one DBOS client), in this
        process: a `harness fleet` child imports DBOS, ~1 CPU-s each. The command itself
        is tested through ``cli`` (tests/fleet/test_cli.py, test_takeover.py)."""
        place = fleet_place(self.url, environ=self.env)
        db = FleetDb(place)
        client = Client(place)
        try:
            for run_id in run_ids:
                submit(db, lambda: client, run_id, source_of(str(source)), klass=klass)
        finally:
            client.close()
            db.close()

    def start_worker(
        self,
        worker_id: str,
        *,
        runs: int = 20,
        crash_in: str | None = None,
        lost_after: float = 8,
        options: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """`harness fleet worker --id worker_id ...` as a process (its output in
        ``<home>/<worker_id>.log``); its runs' ``scripted/`` models answer in process, on
        the worker's waits (`harness.model.make.scripted_in_process`)."""
        entry = ["harness"]
        if crash_in:  # the switch keeps its marker in <home>/.harness
            (self.home / ".harness").mkdir(exist_ok=True)
            entry = ["harness.cli.chaos", "--in", crash_in, "--", "-C", str(self.home)]
        log = open(self.home / f"{worker_id}.log", "a")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [
                *ENTRY,
                *entry,
                "fleet",
                "worker",
                "--id",
                worker_id,
                "--runs",
                str(runs),
                "--lost-after",
                str(lost_after),
                "--grace",
                "60",
                *options,
            ],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.workers[worker_id] = proc
        return proc

    def kill(self, worker_id: str) -> None:
        proc = self.workers[worker_id]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

    def status(self) -> list[dict[str, Any]]:
        """The lines of `harness fleet status --json`, read in this process (`wait` asks
        every second: a `harness` child each time cost ~0.4 CPU-s; the command itself is
        tested through ``cli``). One FleetDb for every call until ``stop_all``: a new
        one per call made its engine and checked its tables again, each second of a
        ``wait``."""
        if self._db is None:
            self._db = FleetDb(fleet_place(self.url, environ=self.env))
        rows = self._db.all_runs()
        version = app_version()
        return [json.loads(json.dumps(row.public(version))) for row in rows]

    def wait(
        self, done: Callable[[list[dict[str, Any]]], bool], deadline_s: float = 900
    ) -> list[dict[str, Any]]:
        """Poll `status --json` until ``done`` (a generous deadline: no speed bound)."""
        end = time.monotonic() + deadline_s
        while True:
            rows = self.status()
            if done(rows):
                return rows
            if time.monotonic() > end:
                logs = "\n".join((self.home / f"{w}.log").read_text()[-3000:] for w in self.workers)
                raise AssertionError(f"fleet did not get there: {rows}\n{logs}")
            time.sleep(1)

    def stop_all(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def project_of(self, run_id: str) -> Path:
        return self.home / "work" / run_id / "project"

    def journal_of(self, run_id: str) -> Location:
        """The run's journal: its schema in the fleet's PostgreSQL database, else SQLite in
        the run's folder on this machine."""

        state = self.project_of(run_id) / ".harness"
        if self.url is None:
            return Location(state)
        return Location(state, url=schema_url(self.url, schema_of(run_id)))

    def verify(self, run_id: str) -> None:
        """`harness journal verify` of the run on this machine (its key files), in this
        process: the command's own check (``harness.journal.verify.verify``) of the
        journal the command finds from the run's folder and this fleet's environment
        (a `harness` child cost ~0.5 CPU-s; the command is tested in tests/harness)."""
        where = replace(
            self.journal_of(run_id),
            project=str(self.project_of(run_id).absolute()),
            keys=KeyFiles(state_home(self.env)),
        )
        report = verify_journal(where)
        assert report.ok, (run_id, report.verdict, report.problems)


def all_in(states: tuple[str, ...]) -> Callable[[list[dict[str, Any]]], bool]:
    """Every run in one of ``states``, its branch published: a drive writes the run's state,
    then its next step pushes the branch (fleet/workflow.py), so a run is `complete` in
    `status` a moment before `harness/<id>` is there to read."""
    return lambda rows: bool(rows) and all(r["state"] in states and r["branch"] for r in rows)


_JOURNAL_REF = re.compile(r"journal:[0-9a-f]{16}/[^/\s\"]+/")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")
_TREE = re.compile(r'"tree": "[0-9a-f]{40}"')  # the tree verified: progress.md's times in it


def branch_history(source: Path, run_id: str) -> list[tuple[str, dict[str, str]]]:
    """Each commit of the run's published branch, oldest first: its subject and its files,
    with what differs between two runs of one project by nature (the journal's id and the
    run's id in evidence references, the times) masked; the rest (evidence's session and
    step, output digests, every file's bytes) compared as they are. Read with a git per
    commit (its tree) and one for every file's bytes: a `git show` per file and commit
    was ~55 git processes per run."""
    log = _git(source, "log", "--reverse", "--format=%H %s", f"harness/{run_id}")
    commits = [line.partition(" ")[::2] for line in log.splitlines()]
    trees = []
    for sha, _subject in commits:
        entries = _git(source, "ls-tree", "-r", "-z", sha).split("\0")
        trees.append([entry.split("\t", 1) for entry in entries if entry])
    blobs = sorted({info.split()[2] for tree in trees for info, _ in tree if " blob " in info})
    contents = _blobs(source, blobs)
    history = []
    for (sha, subject), tree in zip(commits, trees, strict=True):
        files = {}
        for info, path in tree:
            if " blob " in info:
                text = contents[info.split()[2]]
            else:  # a submodule's commit: what `git show` says of it
                text = _git(source, "show", f"{sha}:{path}")
            text = _TREE.sub('"tree": "T"', _JOURNAL_REF.sub("journal:J/R/", text))
            files[path] = _TIME.sub("T", text)
        history.append((subject.strip(), files))
    return history


def _blobs(source: Path, shas: list[str]) -> dict[str, str]:
    """The text of each blob (decoded as ``_git`` decodes: the locale's encoding, universal
    newlines), read by one `git cat-file --batch`."""
    out = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=source,
        input="".join(f"{sha}\n" for sha in shas).encode(),
        capture_output=True,
        check=True,
    ).stdout
    found, at = {}, 0
    encoding = locale.getpreferredencoding(False)
    for sha in shas:
        header_end = out.index(b"\n", at)
        name, kind, size = out[at:header_end].decode().split()
        assert name == sha and kind == "blob", (sha, name, kind)
        data = out[header_end + 1 : header_end + 1 + int(size)]
        found[sha] = data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        at = header_end + 1 + int(size) + 1
    return found


def llm_attempts(where: Location) -> list[int]:
    """The attempts of every model step of the run's journal (1 = paid once)."""

    reader = open_reader(where)
    try:
        return [s.attempts for s in reader.steps(include_superseded=True) if s.kind == "llm"]
    finally:
        reader.close()


def iter_lines(path: Path) -> Iterator[str]:
    yield from path.read_text().splitlines()
