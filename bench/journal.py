"""Journal benchmark: per-step overhead, restart-to-first-new-step, replay time, open check.

Side by side in one run: harness's journal (synchronous NORMAL and FULL; NORMAL with the
HMAC chain's MACs replaced by a constant, to show what the chain costs; NORMAL with every
step's end committed on its own, the way before a quick step's end rode with the next
start), SQLite alone with the journal's schema and statements (the floor, with one and
with two commits a step), DBOS with its SQLite system database, and LangGraph with its
SQLite checkpointer, over the same loop of trivial steps. Each measurement runs in its
own process so no library's state leaks into another's, five rounds interleaved in a
shuffled order (machine noise hits every way alike), the median of the rounds' medians
reported. Peers that are not installed are reported as such; the rest still runs.
Last, the check every `harness run` makes when it opens its journal (disk probe, SQLite's
quick_check, the key) on journals of 10,000 and 100,000 steps.

    python bench/journal.py           # 1,000 steps, 5 rounds, 3 restart repeats
    python bench/journal.py --quick   # 300 steps, 1 round, 1 repeat
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
TARGET_STEP_US = 40.0  # with the HMAC chain, synchronous NORMAL
TARGET_OPEN_MS = 50.0  # the open-time check of a 100,000-step journal
OPEN_SIZES = (10_000, 100_000)
TARGET_FIRST_STEP_S = 0.3
TARGET_REPLAY_S = 0.5


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"median_us": statistics.median(ordered) * 1e6, "p99_us": p99 * 1e6, "n": len(ordered)}


# -- parts, each run in a child process ------------------------------------------------------
def no_chain() -> None:
    """Replace the chain's MACs by a constant: the same rows and SQL, no HMAC computed."""
    from harness.journal.chain import Chain

    constant = bytes(32)
    for name in ("seed", "start", "end", "cache"):
        setattr(Chain, name, lambda self, *args, **kwargs: constant)


def loop_journal(
    workdir: Path, steps: int, synchronous: str, chain: bool = True, defer: bool = True
) -> dict[str, Any]:
    from harness.journal import Journal

    if not chain:
        no_chain()
    if not defer:  # every end committed on its own: two commits a step
        import harness.journal.session as session_module

        session_module.DEFER_S = 0.0

    with Journal.open(workdir / ".harness", synchronous=synchronous) as journal:
        session = journal.start_run().session(1)
        times = []
        clock = time.perf_counter
        for i in range(steps):
            t0 = clock()
            session.step("tool", "step", {"i": i}, lambda i=i: {"i": i})
            times.append(clock() - t0)
    return summary(times)


def loop_sqlite(workdir: Path, steps: int, commits: int) -> dict[str, Any]:
    """SQLite alone, the journal's schema and statements, no harness code: the floor.
    ``commits`` 2: start and end each committed; 1: an end rides with the next start."""
    import sqlite3

    from harness.journal.session import _END, _INSERT
    from harness.journal.store import SCHEMA

    conn = sqlite3.connect(workdir / "floor.db", isolation_level=None, cached_statements=256)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    times = []
    pending: tuple[Any, ...] | None = None
    clock = time.perf_counter
    mac = bytes(32)
    for i in range(steps):
        t0 = clock()
        text = json.dumps({"i": i})
        start = ("run", 1, i + 1, "tool", "step", "d" * 64, text, None, 1, time.time(), mac)
        if commits == 2:
            row = conn.execute(_INSERT, start).lastrowid
            conn.execute(_END, (text, None, time.time(), 0.0, None, None, mac, row))
        else:
            conn.execute("BEGIN IMMEDIATE")
            if pending is not None:
                conn.execute(_END, pending)
            row = conn.execute(_INSERT, start).lastrowid
            conn.execute("COMMIT")
            pending = (text, None, time.time(), 0.0, None, None, mac, row)
        times.append(clock() - t0)
    conn.close()
    return summary(times)


def loop_dbos(workdir: Path, steps: int) -> dict[str, Any]:
    from dbos import DBOS, DBOSConfig

    config: DBOSConfig = {
        "name": "bench",
        "system_database_url": f"sqlite:///{workdir / 'dbos.sqlite'}",
        "log_level": "ERROR",
    }
    DBOS(config=config)
    times: list[float] = []

    @DBOS.step()
    def one(i: int) -> dict[str, int]:
        return {"i": i}

    @DBOS.workflow()
    def flow(n: int) -> None:
        clock = time.perf_counter
        for i in range(n):
            t0 = clock()
            one(i)
            times.append(clock() - t0)

    DBOS.launch()
    flow(steps)
    DBOS.destroy()
    return summary(times)


def loop_langgraph(workdir: Path, steps: int) -> dict[str, Any]:
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


def worker_journal(workdir: Path, steps: int, die_at: int, first_new: str) -> None:
    """200 steps; SIGKILL self inside step ``die_at``; note when the first live step runs."""
    from harness.journal import Journal

    written = False
    with Journal.open(workdir / ".harness") as journal:
        run_id = journal.unfinished_run()
        run = journal.resume_run(run_id) if run_id else journal.start_run()
        session = run.session(1)
        for i in range(1, steps + 1):

            def work(i: int = i) -> dict[str, int]:
                nonlocal written
                if first_new and not written:
                    Path(first_new).write_text(repr(time.time()))
                    written = True
                if i == die_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return {"i": i}

            session.step("tool", "step", {"i": i}, work)
        run.finish("complete", {})


def worker_dbos(workdir: Path, steps: int, die_at: int, first_new: str) -> None:
    from dbos import DBOS, DBOSConfig, SetWorkflowID

    config: DBOSConfig = {
        "name": "bench",
        "system_database_url": f"sqlite:///{workdir / 'dbos.sqlite'}",
        "log_level": "ERROR",
    }
    DBOS(config=config)
    written = False

    @DBOS.step()
    def one(i: int) -> dict[str, int]:
        nonlocal written
        if first_new and not written:
            Path(first_new).write_text(repr(time.time()))
            written = True
        if i == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return {"i": i}

    @DBOS.workflow()
    def flow(n: int) -> int:
        for i in range(1, n + 1):
            one(i)
        return n

    DBOS.launch()
    if not first_new:
        with SetWorkflowID("bench-restart"):
            flow(steps)
    else:  # DBOS recovers the pending workflow itself on launch; wait for it
        handle = DBOS.retrieve_workflow("bench-restart")
        handle.get_result()
    DBOS.destroy()


def open_check(workdir: Path, steps: int, record: bool) -> dict[str, Any]:
    """Record ``steps`` steps (``record``), or time opening the journal: the whole check a
    run makes (``Journal.open``) and SQLite's quick_check alone, 5 times each."""
    from harness.journal import Journal, faults

    state = workdir / ".harness"
    if record:
        with Journal.open(state) as journal:
            session = journal.start_run().session(1)
            for i in range(steps):
                session.step("tool", "step", {"i": i}, lambda i=i: {"i": i})
        return {"bytes": (state / "journal.db").stat().st_size}
    opens, fulls, checks = [], [], []
    stamp = state / faults.STAMP
    for _ in range(5):
        t0 = time.perf_counter()
        Journal.open(state).close()  # files as the last close left them: the stamp holds
        opens.append(time.perf_counter() - t0)
        stamp.unlink()  # as after a crash or a foreign write: the full quick_check
        t0 = time.perf_counter()
        Journal.open(state).close()
        fulls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert faults.check(state / "journal.db") == []
        checks.append(time.perf_counter() - t0)
    return {
        "open_ms": statistics.median(opens) * 1e3,
        "full_open_ms": statistics.median(fulls) * 1e3,
        "quick_check_ms": statistics.median(checks) * 1e3,
        "mb": (state / "journal.db").stat().st_size / 1e6,
    }


def replay_journal(workdir: Path, steps: int, record: bool) -> dict[str, Any]:
    from harness.journal import Journal

    state = workdir / ".harness"
    if record:
        with Journal.open(state) as journal:
            run = journal.start_run()
            session = run.session(1)
            for i in range(steps):
                session.step("tool", "step", {"i": i}, lambda i=i: {"i": i})
        return {"run": run.id}
    t0 = time.perf_counter()
    with Journal.open(state) as journal:
        run_id = journal.unfinished_run()
        assert run_id is not None
        session = journal.resume_run(run_id).session(1)
        for i in range(steps):
            session.step("tool", "step", {"i": i}, lambda: {"i": -1})
        elapsed = time.perf_counter() - t0
        assert not session.replaying
    return {"seconds": elapsed, "steps": steps}


# -- the driver ----------------------------------------------------------------------------------
def child(part: str, workdir: Path, *extra: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(HERE), "--part", part, "--workdir", str(workdir), *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": last}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def restart(kind: str, workdir: Path, steps: int = 200, die_at: int = 147) -> dict[str, Any]:
    """Seconds from spawning a process to its first new step after a SIGKILL at ``die_at``."""
    cmd = [sys.executable, str(HERE), "--part", f"worker-{kind}", "--workdir", str(workdir)]
    first = subprocess.run(
        [*cmd, "--steps", str(steps), "--die-at", str(die_at)], capture_output=True, text=True
    )
    if first.returncode != -signal.SIGKILL:
        last = (first.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"the first process did not die at step {die_at}: {last}"}
    stamp = workdir / "first_new.txt"
    spawned = time.time()
    second = subprocess.run(
        [*cmd, "--steps", str(steps), "--first-new", str(stamp)], capture_output=True, text=True
    )
    if second.returncode != 0 or not stamp.exists():
        last = (second.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"the restarted process failed: {last}"}
    return {"seconds": float(stamp.read_text()) - spawned}


def peer_available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def mac_cost_us() -> float:
    """CPU time of one step's two MACs (start and end), median of 5 timeit runs: the part
    of the chain's cost that is not I/O, free of the noise between processes."""
    import timeit

    from harness.journal.chain import Chain

    chain, prev = Chain("j" * 16, os.urandom(32)), os.urandom(32)

    def one() -> None:
        start = chain.start(prev, "20261201-170115-693cc5", 1, 5, "tool", "step", "d" * 64, 1)
        chain.end(start, "ended", '{"i": 1}', None, None, None, None, 0)

    runs = [timeit.timeit(one, number=20_000) / 20_000 * 1e6 for _ in range(5)]
    return statistics.median(runs)


def fmt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.1f}{unit}"


def run_all(quick: bool) -> int:
    steps = 300 if quick else 1000
    repeats = 1 if quick else 3
    loops = 1 if quick else 5
    replay_steps = 10_000
    rows: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    # The throwaway journals' keys go with them, not into the user's state directory.
    os.environ["HARNESS_STATE_HOME"] = str(base / "state-home")

    def fresh(name: str) -> Path:
        path = base / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    print(
        f"per-step overhead over a {steps}-step loop (each in its own process, "
        f"{loops} rounds interleaved, the median of their medians)..."
    )
    ways = {
        "journal NORMAL": ("loop-journal",),
        "journal NORMAL, no chain": ("loop-journal", "--no-chain"),
        "journal NORMAL, 2 commits": ("loop-journal", "--no-defer"),
        "journal FULL": ("loop-journal", "--synchronous", "FULL"),
        "SQLite alone, 1 commit": ("loop-sqlite", "--commits", "1"),
        "SQLite alone, 2 commits": ("loop-sqlite", "--commits", "2"),
    }
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in ways}
    for r in range(loops):
        order = list(enumerate(ways.items()))
        random.Random(r).shuffle(order)  # no way always first (or last) in its round
        for index, (name, (part, *extra)) in order:
            workdir = fresh(f"loop-{r}-{index}")
            rounds[name].append(child(part, workdir, "--steps", str(steps), *extra))
    for name, results in rounds.items():
        good = [got for got in results if "error" not in got]
        if not good:
            rows[name] = results[0]
            continue
        rows[name] = {
            key: statistics.median(got[key] for got in good) for key in ("median_us", "p99_us")
        }
    for name, module, part in (
        ("DBOS (SQLite)", "dbos", "loop-dbos"),
        ("LangGraph (SqliteSaver)", "langgraph.checkpoint.sqlite", "loop-langgraph"),
    ):
        if peer_available(module.split(".")[0]) and peer_available(module):
            rows[name] = child(part, fresh(part), "--steps", str(steps))
        else:
            rows[name] = {"error": f"not installed (pip install {module.split('.')[0]}...)"}

    print("restart: spawn to first new step after SIGKILL at step 147 of 200...")
    restarts: dict[str, list[float]] = {"journal": [], "DBOS": []}
    restart_errors: dict[str, str] = {}
    for kind, label in (("journal", "journal"), ("dbos", "DBOS")):
        if kind == "dbos" and not peer_available("dbos"):
            restart_errors[label] = "not installed"
            continue
        for r in range(repeats):
            got = restart(kind, fresh(f"restart-{kind}-{r}"))
            if "error" in got:
                restart_errors[label] = got["error"]
                break
            restarts[label].append(got["seconds"])

    print(f"replay of {replay_steps:,} recorded steps (open + replay, in a fresh process)...")
    rdir = fresh("replay")
    recorded = child("replay-journal", rdir, "--steps", str(replay_steps), "--record")
    replay = (
        recorded
        if "error" in recorded
        else child("replay-journal", rdir, "--steps", str(replay_steps))
    )

    print("open-time check on journals of " + ", ".join(f"{n:,}" for n in OPEN_SIZES) + " steps...")
    opened: dict[int, dict[str, Any]] = {}
    for size in OPEN_SIZES:
        odir = fresh(f"open-{size}")
        made = child("open-check", odir, "--steps", str(size), "--record")
        opened[size] = made if "error" in made else child("open-check", odir, "--steps", str(size))

    print()
    print(f"{'per-step overhead':<26}{'median µs':>12}{'p99 µs':>12}{'vs journal':>12}")
    ours = rows["journal NORMAL"].get("median_us")
    for name, row in rows.items():
        if "error" in row:
            print(f"{name:<26}  unavailable: {row['error']}")
            continue
        ratio = f"{row['median_us'] / ours:.1f}x" if ours else "n/a"
        print(f"{name:<26}{fmt(row['median_us']):>12}{fmt(row['p99_us']):>12}{ratio:>12}")
    print()
    print(f"{'restart to first new step':<26}{'median s':>12}{'runs':>12}")
    for label, values in restarts.items():
        if values:
            print(f"{label:<26}{statistics.median(values):>12.3f}{len(values):>12}")
        else:
            print(f"{label:<26}  unavailable: {restart_errors.get(label, 'no result')}")
    if restarts["journal"] and restarts["DBOS"]:
        ratio = statistics.median(restarts["DBOS"]) / statistics.median(restarts["journal"])
        notes.append(f"DBOS takes {ratio:.1f}x as long as the journal to its first new step")
    print()
    if "error" in replay:
        print(f"replay of {replay_steps:,} steps: unavailable: {replay['error']}")
    else:
        print(f"replay of {replay_steps:,} steps: {replay['seconds']:.3f} s "
              f"({replay['seconds'] / replay_steps * 1e6:.1f} µs per step)")  # fmt: skip

    print()
    print(f"{'open-time check (ms)':<26}{'stamped':>12}{'full open':>12}{'quick_check':>12}"
          f"{'file MB':>10}")  # fmt: skip
    for size, got in opened.items():
        if "error" in got:
            print(f"{size:>10,} steps{'':<10}  unavailable: {got['error']}")
        else:
            print(f"{size:>10,} steps{'':<10}{got['open_ms']:>12.1f}{got['full_open_ms']:>12.1f}"
                  f"{got['quick_check_ms']:>12.1f}{got['mb']:>10.1f}")  # fmt: skip
    print("  stamped: reopening files as the last close left them (HMAC-vouched stat);")
    print("  full open: after a crash or any other write, with SQLite's quick_check")
    plain = rows["journal NORMAL, no chain"].get("median_us")
    if ours and plain:
        notes.append(f"the HMAC chain costs {ours - plain:.1f} µs per step ({ours / plain:.2f}x)")
    notes.append(f"the chain's two MACs alone (timeit, no I/O): {mac_cost_us():.1f} µs per step")
    two = rows["journal NORMAL, 2 commits"].get("median_us")
    if ours and two:
        notes.append(
            f"one commit a step instead of two saves {two - ours:.1f} µs ({two / ours:.2f}x)"
        )
    floor = rows["SQLite alone, 1 commit"].get("median_us")
    if ours and floor:
        notes.append(f"harness's code over SQLite alone (1 commit): {ours - floor:.1f} µs per step")

    print()
    for name in ("DBOS (SQLite)", "LangGraph (SqliteSaver)"):
        row = rows[name]
        if ours and "median_us" in row:
            notes.append(f"{name} per step: {row['median_us'] / ours:.1f}x the journal's")
    biggest = opened.get(OPEN_SIZES[-1], {})
    checks = [
        ("journal NORMAL (chained) median <= 40 µs", ours is not None and ours <= TARGET_STEP_US),
        (
            "open-time check of 100,000 steps within 50 ms (stamped)",
            "open_ms" in biggest and biggest["open_ms"] <= TARGET_OPEN_MS,
        ),
        (
            "open-time check of 100,000 steps within 50 ms (full quick_check)",
            "full_open_ms" in biggest and biggest["full_open_ms"] <= TARGET_OPEN_MS,
        ),
        (
            "first new step within 0.3 s of spawn",
            bool(restarts["journal"])
            and statistics.median(restarts["journal"]) <= TARGET_FIRST_STEP_S,
        ),
        (
            "replay of 10,000 steps within 0.5 s",
            "seconds" in replay and replay["seconds"] <= TARGET_REPLAY_S,
        ),
    ]
    for note in notes:
        print(f"ratio: {note}")
    for label, ok in checks:
        print(f"target: {label}: {'met' if ok else 'NOT met'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 steps, 1 restart repeat")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--synchronous", default="NORMAL", help=argparse.SUPPRESS)
    parser.add_argument("--die-at", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--first-new", default="", help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-chain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-defer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--commits", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.part:
        return run_all(args.quick)
    workdir = Path(args.workdir)
    result: dict[str, Any] | None = None
    if args.part == "loop-journal":
        result = loop_journal(
            workdir, args.steps, args.synchronous, chain=not args.no_chain, defer=not args.no_defer
        )
    elif args.part == "loop-sqlite":
        result = loop_sqlite(workdir, args.steps, args.commits)
    elif args.part == "loop-dbos":
        result = loop_dbos(workdir, args.steps)
    elif args.part == "loop-langgraph":
        result = loop_langgraph(workdir, args.steps)
    elif args.part == "worker-journal":
        worker_journal(workdir, args.steps, args.die_at, args.first_new)
    elif args.part == "worker-dbos":
        worker_dbos(workdir, args.steps, args.die_at, args.first_new)
    elif args.part == "open-check":
        result = open_check(workdir, args.steps, args.record)
    elif args.part == "replay-journal":
        result = replay_journal(workdir, args.steps, args.record)
    else:
        parser.error(f"unknown part {args.part}")
    if result is not None:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
