"""The parts of bench/journal.py, each run in a process of its own (``--part NAME``).

A part prints one JSON line. ``harness`` is imported from ``PYTHONPATH`` when the driver
sets it (the base commit's worktree), else from this checkout; parts that open a journal
use only what the base's API has too (``Journal.open(state_dir)``) for SQLite.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def summary(samples: list[float], cpu_s: float | None = None) -> dict[str, float]:
    """Median and p99 of the steps' wall times; ``cpu_us``: the process's CPU time (every
    thread) over the loop, per step, which waiting for a core on a loaded machine does not
    inflate (None where the work is in another process: a database server)."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    found = {"median_us": statistics.median(ordered) * 1e6, "p99_us": p99 * 1e6, "n": len(ordered)}
    if cpu_s is not None:
        found["cpu_us"] = cpu_s / len(ordered) * 1e6
    return found


def open_journal(workdir: Path, backend: str, url: str, **options: Any) -> Any:
    """The journal of a way: SQLite (NORMAL or FULL), memory or PostgreSQL."""
    from harness.journal import Journal

    state = workdir / ".harness"
    if backend in ("sqlite", "sqlite-full"):
        synchronous = "FULL" if backend == "sqlite-full" else "NORMAL"
        return Journal.open(state, synchronous=synchronous, **options)
    from harness.journal import Location

    if backend == "memory":
        from harness.journal.memory import MemoryDatabase

        return Journal.open(Location(state, memory=MemoryDatabase()), **options)
    return Journal.open(Location(state, url=url, project=str(workdir)), **options)


def no_chain() -> None:
    """Replace the chain's MACs by a constant: the same rows and statements, no HMAC."""
    from harness.journal.chain import Chain

    constant = bytes(32)
    for name in ("seed", "start", "end", "cache", "result", "entry"):
        if hasattr(Chain, name):
            setattr(Chain, name, lambda self, *args, **kwargs: constant)


def loop(workdir: Path, steps: int, backend: str, url: str, chain: bool) -> dict[str, Any]:
    """Per-step time of ``steps`` trivial tool steps in one session."""
    if not chain:
        no_chain()
    with open_journal(workdir, backend, url) as journal:
        session = journal.start_run().session(1)
        times = []
        clock = time.perf_counter
        cpu = time.process_time()
        for i in range(steps):
            t0 = clock()
            session.step("tool", "step", {"i": i}, lambda i=i: {"i": i})
            times.append(clock() - t0)
        cpu = time.process_time() - cpu
    return summary(times, cpu if backend != "postgres" else None)


def loop_sqlite(workdir: Path, steps: int) -> dict[str, Any]:
    """SQLite alone with the journal's schema, one commit a step (an end rides with the
    next start): the floor under any journal on SQLite."""
    import sqlite3

    from harness.journal.sqlite.schema import SCHEMA

    conn = sqlite3.connect(workdir / "floor.db", isolation_level=None, cached_statements=256)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    insert = (
        "INSERT INTO steps (run_id, session, seq, kind, name, input_digest, inputs, status, "
        "attempts, idempotent, started_at, mac_start) VALUES (?, ?, ?, ?, ?, ?, ?, 'started', "
        "1, 1, ?, ?) RETURNING id"
    )
    end = "UPDATE steps SET status = 'ended', output = ?, ended_at = ?, mac = ? WHERE id = ?"
    times, pending, mac, clock = [], None, bytes(32), time.perf_counter
    cpu = time.process_time()
    for i in range(steps):
        t0 = clock()
        text = json.dumps({"i": i})
        conn.execute("BEGIN IMMEDIATE")
        if pending is not None:
            conn.execute(end, pending)
        row = conn.execute(insert, ("run", 1, i + 1, "tool", "step", "d" * 64, text,
                                    time.time(), mac)).fetchone()[0]  # fmt: skip
        conn.execute("COMMIT")
        pending = (text, time.time(), mac, row)
        times.append(clock() - t0)
    cpu = time.process_time() - cpu
    conn.close()
    return summary(times, cpu)


def loop_dbos(workdir: Path, steps: int) -> dict[str, Any]:
    from dbos import DBOS, DBOSConfig

    database = f"sqlite:///{workdir / 'dbos.sqlite'}"
    config: DBOSConfig = {"name": "bench", "log_level": "ERROR", "system_database_url": database}
    DBOS(config=config)
    times: list[float] = []

    @DBOS.step()
    def one(i: int) -> dict[str, int]:
        return {"i": i}

    @DBOS.workflow()
    def flow(n: int) -> None:
        for i in range(n):
            t0 = time.perf_counter()
            one(i)
            times.append(time.perf_counter() - t0)

    DBOS.launch()
    flow(steps)
    DBOS.destroy()
    return summary(times)


def loop_langgraph(workdir: Path, steps: int) -> dict[str, Any]:
    import itertools
    import sqlite3
    from typing import TypedDict

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        i: int

    entries: list[float] = []

    def node(state: State) -> State:
        entries.append(time.perf_counter())
        return {"i": state["i"] + 1}

    graph = StateGraph(State)
    graph.add_node("step", node)
    graph.add_edge(START, "step")
    graph.add_conditional_edges("step", lambda s: END if s["i"] >= steps else "step")
    conn = sqlite3.connect(workdir / "lg.sqlite", check_same_thread=False)
    app = graph.compile(checkpointer=SqliteSaver(conn))
    config: Any = {"configurable": {"thread_id": "bench"}, "recursion_limit": steps + 10}
    app.invoke({"i": 0}, config, durability="sync")  # durable before the next step, like ours
    conn.close()
    return summary([b - a for a, b in itertools.pairwise(entries)])


def worker(workdir: Path, steps: int, backend: str, url: str, die_at: int, mark: str) -> None:
    """``steps`` steps; SIGKILL self inside step ``die_at``; write the time the first live
    step runs to ``mark``."""
    written = False
    with open_journal(workdir, backend, url) as journal:
        run_id = journal.unfinished_run()
        run = journal.resume_run(run_id) if run_id else journal.start_run()
        session = run.session(1)
        for i in range(1, steps + 1):

            def work(i: int = i) -> dict[str, int]:
                nonlocal written
                if mark and not written:
                    Path(mark).write_text(repr(time.time()))
                    written = True
                if i == die_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return {"i": i}

            session.step("tool", "step", {"i": i}, work)
        run.finish("complete", {})


def replay(workdir: Path, steps: int, backend: str, url: str, record: bool) -> dict[str, Any]:
    """Record ``steps`` steps, or open the journal and replay them (seconds); memory does
    both here (a process's memory does not outlive it). Imports are not timed."""
    from harness.journal import Journal, Location  # noqa: F401

    if record or backend == "memory":
        journal = open_journal(workdir, backend, url)
        run = journal.start_run()
        session = run.session(1)
        for i in range(steps):
            session.step("tool", "step", {"i": i}, lambda i=i: {"i": i})
        journal.close()
        if backend != "memory":
            return {"run": run.id}
        store = journal.store
        t0 = time.perf_counter()
        again = Journal(type(store)(store.db), store.chain())
        return _replayed(again, steps, t0)
    t0 = time.perf_counter()
    return _replayed(open_journal(workdir, backend, url), steps, t0)


def _replayed(journal: Any, steps: int, t0: float) -> dict[str, Any]:
    with journal:
        run_id = journal.unfinished_run()
        assert run_id is not None
        session = journal.resume_run(run_id).session(1)
        for i in range(steps):
            session.step("tool", "step", {"i": i}, lambda: {"i": -1})
        elapsed = time.perf_counter() - t0
        assert not session.replaying
    return {"seconds": elapsed, "steps": steps}


def readers(workdir: Path, steps: int, backend: str, url: str, record: bool) -> dict[str, Any]:
    """A project whose journal holds ``steps`` steps (``record``), or the wall time of
    ``harness status`` and ``harness log`` on it (median of 3, each a fresh process)."""
    root = workdir / "project"
    if record:
        root.mkdir(parents=True, exist_ok=True)
        (root / "feature_list.json").write_text(json.dumps({"version": 1, "features": []}))
        replay(root, steps, backend, url, record=True)
        return {"steps": steps}
    env = {**os.environ}
    if url:
        env["HARNESS_JOURNAL_URL"] = url
    import resource

    found: dict[str, Any] = {}
    for command in (["status", "--json"], ["log", "--json"]):
        times, cpus = [], []
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "harness", "-C", str(root), *command],
                                  capture_output=True, text=True, env=env)  # fmt: skip
            times.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if done.returncode != 0:
                return {"error": f"harness {command[0]}: {done.stderr.strip()[-200:]}"}
        found[command[0]] = statistics.median(times)
        found[f"{command[0]}_cpu"] = statistics.median(cpus)
    return found


def open_check(workdir: Path, steps: int, record: bool) -> dict[str, Any]:
    """Record ``steps`` steps, or time opening the SQLite journal: with its stamp, after a
    crash (SQLite's quick_check) and the check alone, 5 times each."""
    from harness.journal import Journal, faults
    from harness.journal.sqlite.store import db_path

    state = workdir / ".harness"
    if record:
        replay(workdir, steps, "sqlite", "", record=True)
        return {"bytes": db_path(state).stat().st_size}
    opens, fulls, checks = [], [], []
    for _ in range(5):
        t0 = time.perf_counter()
        Journal.open(state).close()  # files as the last close left them: the stamp holds
        opens.append(time.perf_counter() - t0)
        (state / faults.STAMP).unlink()  # as after a crash or a foreign write
        t0 = time.perf_counter()
        Journal.open(state).close()
        fulls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert faults.check(db_path(state)) == []
        checks.append(time.perf_counter() - t0)
    return {
        "open_ms": statistics.median(opens) * 1e3,
        "full_open_ms": statistics.median(fulls) * 1e3,
        "quick_check_ms": statistics.median(checks) * 1e3,
        "mb": db_path(state).stat().st_size / 1e6,
    }


def mac_cost_us() -> float:
    """CPU time of one step's two MACs (start and end), median of 5 timeit runs."""
    import timeit

    from harness.journal.chain import Chain

    chain, prev = Chain("j" * 16, os.urandom(32)), os.urandom(32)

    def one() -> None:
        start = chain.start(prev, "20261201-170115-693cc5", 1, 5, "tool", "step", "d" * 64, 1)
        chain.end(start, "ended", '{"i": 1}', None, None, None, None, 0)

    return statistics.median(timeit.timeit(one, number=20_000) / 20_000 * 1e6 for _ in range(5))


def run_part(args: Any) -> dict[str, Any] | None:
    workdir = Path(args.workdir)
    part = args.part
    if part == "loop":
        return loop(workdir, args.steps, args.backend, args.url, chain=not args.no_chain)
    if part == "loop-sqlite":
        return loop_sqlite(workdir, args.steps)
    if part == "loop-dbos":
        return loop_dbos(workdir, args.steps)
    if part == "loop-langgraph":
        return loop_langgraph(workdir, args.steps)
    if part == "worker":
        worker(workdir, args.steps, args.backend, args.url, args.die_at, args.mark)
        return None
    if part == "replay":
        return replay(workdir, args.steps, args.backend, args.url, args.record)
    if part == "readers":
        return readers(workdir, args.steps, args.backend, args.url, args.record)
    if part == "open-check":
        return open_check(workdir, args.steps, args.record)
    raise SystemExit(f"unknown part {part}")
