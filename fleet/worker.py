"""`harness fleet worker`: one process that drives many runs of one resource class.

The worker is a DBOS executor whose id is the worker's (``--id``): restarted with the same
id, DBOS recovers its own PENDING drives at launch. It beats in the fleet's table every
second; a peer whose beat is older than ``lost_after_s`` (or that said it stopped) is
lost, and the first live worker of the same version to see it asks DBOS to recover its
drives (:meth:`fleet.app.Client.recover`), which go back to their queues for any worker.
SIGTERM (or Ctrl-C): stop taking drives, let each run finish its step in flight and hand
over (its next drive is enqueued at once for the others), then exit.
"""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fleet.app import APP_NAME, Client, app_version, queue_name, quiet_dbos
from fleet.classes import ClassTable
from fleet.db import FleetDb, WorkerRow
from fleet.drive import PUBLISH_RETRY_S, WorkerState
from fleet.drives import HOSTS, Drives
from fleet.place import FleetError
from fleet.runjournal import RunJournals
from fleet.trace import from_environ
from fleet.warm import warm
from harness.journal.postgres.pool import Pool
from runners.process import pid_alive

if TYPE_CHECKING:
    from dbos import DBOSConfig

    from fleet.place import Place
    from harness.scope import ModelMaker

BEAT_S = 1.0
LOST_AFTER_S = 10.0
GRACE_S = 600  # how long a stopping worker waits for its steps in flight
DBOS_POOL = 10  # DBOS's connections per worker (its default, 20, is sized for web servers)
DBOS_THREADS = 8
"""DBOS's executor: its own database calls (each step's record, the queue's dispatch).
The drives are coroutines on its loop and hold none of them (``fleet.drives``)."""
QUEUE_POLL_S = 0.25
"""How often DBOS's queue thread asks for drives (its default, 1 s, was up to a second of
every takeover: a lost worker's drives back on the queue waited for the next poll). A poll
is a statement or two while the worker has room."""
NOTIFY_S = 1.0
"""How often DBOS's notifier thread wakes to send the events and streams written since
(its default, 0.01 s: a hundred wakes a second in every worker, ~40% of an idle worker's
CPU). The fleet writes neither (its runs' state is in its own tables): nothing waits on
it."""
REASK_S = 60.0
"""A lost peer whose recovery found no drive left is asked for again this often while it
stays down: one that took drives without its beat reaching the fleet, then died, is
recovered without an operator."""
CONNECTIONS = HOSTS + 2
"""A PostgreSQL fleet's connections for the runs' stores per worker: one per drive host
thread, one for the flusher of deferred step ends, one for the beat's and DBOS's threads
(prepare, publish) (``harness.journal.postgres.pool``; plus its lock connection)."""


def dbos_config(place: Place, worker_id: str, version: str) -> DBOSConfig:
    """The worker's DBOS configuration (``DBOSConfig``): its executor id is the worker's."""
    return {
        "name": APP_NAME,
        "system_database_url": place.dbos_url(),
        "executor_id": worker_id,
        "application_version": version,
        "log_level": "WARNING",
        "max_executor_threads": DBOS_THREADS,
        "sys_db_pool_size": DBOS_POOL,
        "notification_coalesce_sec": NOTIFY_S,
        "enable_otlp": False,
    }


def raise_fd_limit() -> tuple[int, int]:
    """The soft descriptor limit raised to the hard one (a run holds ~12 descriptors);
    the limits after, as the worker says them at start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft, hard


def serve(
    place: Place,
    *,
    worker_id: str,
    klass: str,
    runs: int,
    environ: Mapping[str, str],
    lost_after_s: float = LOST_AFTER_S,
    connections: int = CONNECTIONS,
    grace_s: int = GRACE_S,
    publish_retry_s: float = PUBLISH_RETRY_S,
    ready: Any = None,
    hooks: Any = None,
    maxima: Mapping[str, float] | None = None,
    models: ModelMaker | None = None,
) -> int:
    """Run the worker until SIGTERM/SIGINT; its exit code. ``hooks`` (crash switches) and
    ``models`` (how its runs build their models, ``RunScope.models``) are given by a test's
    entry only, as to ``harness.cli.main``."""
    from dbos import DBOS

    from fleet import workflow

    version = app_version()
    db = FleetDb(place)
    _refuse_live_twin(db, worker_id, lost_after_s)

    classes = ClassTable(db)
    if maxima:  # what this machine gives its class: the class's maxima for the fleet
        classes.declare(klass, maxima)
    declared = classes.all().get(klass)
    soft, _hard = raise_fd_limit()
    # litellm and the run code, once per worker before any drive (fleet.warm); no litellm
    # where the runs' models are made in process
    warm(gateway=models is None)
    state = WorkerState(
        worker_id=worker_id,
        place=place,
        db=db,
        environ=dict(environ),
        hooks=hooks,
        models=models,
        drives=Drives(),
        classes=classes,
        trace=from_environ(environ, worker_id),
        publish_retry_s=publish_retry_s,
    )
    if place.url is not None:  # each run's journal in the fleet's database, on any machine
        pool = Pool(place.url, connections, name=f"harness fleet worker {worker_id}")
        state.journals = RunJournals(place, pool)
    workflow.current = state
    quiet_dbos()
    client = Client(place)  # makes DBOS's tables if this is the fleet's first process
    DBOS(config=dbos_config(place, worker_id, version))
    DBOS.listen_queues([queue_name(klass)])
    stop = threading.Event()
    _on_signals(stop)
    DBOS.launch()  # recovers this worker id's own PENDING drives
    if state.trace is not None:
        state.trace.watch_dequeues()
    DBOS.register_queue(
        queue_name(klass),
        worker_concurrency=runs,
        polling_interval_sec=QUEUE_POLL_S,
        on_conflict="always_update",
    )
    started = time.time()
    row = WorkerRow(
        worker_id,
        klass,
        socket.gethostname(),
        os.getpid(),
        version,
        runs,
        time.time(),
        started,
        "live",
    )
    db.beat(row)
    print(
        f"harness fleet worker {worker_id}: class "
        f"{declared.describe() if declared else repr(klass)}, up to {runs} runs, version "
        f"{version}, descriptors up to {soft}, fleet {place.describe()}",
        file=sys.stderr,
        flush=True,
    )
    if ready is not None:
        ready()
    asked: dict[str, tuple[float, float]] = {}  # lost peers whose drives were taken
    try:
        while not stop.wait(BEAT_S):
            try:
                _beat(db, client, state, row, lost_after_s, asked)
            except Exception as error:  # the database is away: go on, beat again later
                print(f"harness fleet worker {worker_id}: {error}", file=sys.stderr, flush=True)
    finally:
        state.stopping.set()
        print(
            f"harness fleet worker {worker_id}: stopping; {len(state.active)} run(s) finish "
            "their step in flight and hand over",
            file=sys.stderr,
            flush=True,
        )
        DBOS.destroy(workflow_completion_timeout_sec=grace_s)
        try:
            db.set_worker_state(worker_id, "stopped")
        finally:
            client.close()
            db.close()
            assert state.drives is not None
            state.drives.close()
            if state.journals is not None and state.journals.pool is not None:
                state.journals.pool.close()
    return 0


def _on_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _refuse_live_twin(db: FleetDb, worker_id: str, lost_after_s: float) -> None:

    for row in db.all_workers():
        if row.id == worker_id and row.state == "live":
            here = row.host == socket.gethostname()
            if here and not pid_alive(row.pid):
                continue  # its process is gone (killed): this is its restart
            if time.time() - row.heartbeat < lost_after_s and row.pid != os.getpid():
                raise FleetError(
                    f"worker {worker_id} is alive (pid {row.pid} on {row.host}, beat "
                    f"{time.time() - row.heartbeat:.1f}s ago): give this one another --id, "
                    "or stop that one first"
                )


def _beat(
    db: FleetDb, client: Any, state: Any, row: WorkerRow, lost_after_s: float,
    asked: dict[str, tuple[float, float]],
) -> None:  # fmt: skip
    """One beat of the worker ``row``: fenced if a peer declared it lost, its beat, its
    runs' cancels, lost peers' drives taken. The fleet's workers are read once for the
    fence and the recovery (each read them: two identical queries a second per worker)."""
    row.heartbeat = time.time()
    workers = db.all_workers()
    _fence_if_lost(state, workers)
    db.beat(row)
    _watch_cancels(db, state)
    _recover_lost(db, client, row.id, row.version, lost_after_s, state.mark, asked, workers=workers)


def _fence_if_lost(state: Any, workers: list[WorkerRow]) -> None:
    """A peer declared this worker lost (its beat stalled) and DBOS gave its drives to
    others: every drive running here stops at its next step boundary (DBOS has already
    handed the workflow over), then the worker beats again as live and takes new drives
    (``workers``: the fleet's workers as this beat read them)."""
    for peer in workers:
        if peer.id == state.worker_id and peer.state == "lost":
            state.fenced_before = time.time()
            print(
                f"harness fleet worker {state.worker_id}: a peer took this worker's drives "
                "over (its beat stalled); its runs stop at their next step",
                file=sys.stderr,
                flush=True,
            )


def default_id(place: Place) -> tuple[str, Any]:
    """``<host>-<k>``: the first slot of this machine no live worker holds (a worker
    restarted in its slot keeps its id, so DBOS gives it back its own drives)."""

    folder = place.home / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    k = 1
    while True:
        handle = open(folder / f"{host}-{k}.lock", "a")  # noqa: SIM115 (held while alive)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            k += 1
            continue
        return f"{host}-{k}", handle


def _watch_cancels(db: FleetDb, state: Any) -> None:
    with state.lock:
        active = list(state.active)
    if not active:
        return
    state.cancelled.update(db.cancelled(active))


def _recover_lost(
    db: FleetDb,
    client: Any,
    me: str,
    version: str,
    lost_after_s: float,
    mark: Callable[[str, str], None] = lambda run_id, event: None,
    asked: dict[str, tuple[float, float]] | None = None,
    workers: list[WorkerRow] | None = None,
) -> list[str]:
    """Peers of this version whose beat stopped (or that stopped): DBOS recovers their
    drives; the first worker to mark a peer lost does it (a conditional update), each
    other worker once too (the first may have died before it could). A peer is asked for
    until a recovery finds none of its drives left, then once every ``REASK_S`` while it
    stays down (``asked``: the peer -> the last beat of the loss its recovery emptied, and
    when; a peer that beats again and is lost again is a new loss). Before, every worker
    asked DBOS for the drives of every peer ever lost or stopped each second, forever.
    ``workers``: the fleet's workers as this beat read them, else read here."""
    moved: list[str] = []
    asked = {} if asked is None else asked
    now = time.time()
    for peer in db.all_workers() if workers is None else workers:
        if peer.id == me or peer.version != version:
            continue
        stale = peer.state == "live" and now - peer.heartbeat > lost_after_s
        if stale and not db.set_worker_state(peer.id, "lost", only_if="live"):
            continue
        if not stale and peer.state not in ("stopped", "lost"):
            asked.pop(peer.id, None)  # live: a later loss is asked for again
            continue
        emptied = asked.get(peer.id)
        if emptied is not None and emptied[0] == peer.heartbeat and now - emptied[1] < REASK_S:
            continue  # this loss's drives are all taken: asked again in a while
        began = time.monotonic()
        found = client.recover(peer.id)
        if not found:
            asked[peer.id] = (peer.heartbeat, now)
        else:
            mark("-", f"recovered {len(found)} of {peer.id}")
            db.requeue_of(peer.id)
            print(
                f"harness fleet worker {me}: took over {len(found)} drive(s) of "
                f"{'lost' if stale or peer.state == 'lost' else 'stopped'} worker {peer.id} "
                f"({time.monotonic() - began:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            moved.extend(found)
    return moved
