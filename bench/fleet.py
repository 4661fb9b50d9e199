"""The fleet under load: runs per worker and per machine, memory per run, harness CPU per
step, p50/p99 step overhead, and the takeover time after a worker is killed, with a
simulated model latency; each figure printed beside the issue's target.

Projects are scripted (``--features`` features, 2 by default; local runner); every model
answer waits ``--latency`` seconds inside the scripted provider. The runs are submitted
to a fleet (embedded by default, ``--url`` for PostgreSQL) driven by ``--workers`` worker
processes, each beating before anything is timed. Midway one worker is killed (SIGKILL):
the bench says when its last beat was, when a peer marked it lost, and when its runs made
their first new step elsewhere (read from their journals).

    nice python bench/fleet.py --runs 40 --latency 2        # ~3 min on a quiet machine
    nice python bench/fleet.py --runs 1000 --latency 2 --workers 2 --no-kill --submit-first
    nice python bench/fleet.py --runs 6 --latency 2 --pg --machines --stagger --per-worker 6 \
        --features 3
    nice python bench/fleet.py --runs 400 --per-worker 400 --submit-first --kill-at 150 --pg

Say the machine's load with the figures (`uptime` is printed): the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLK = os.sysconf("SC_CLK_TCK")
LOST_AFTER_S = 10.0


def _counts(pid: int) -> tuple[int, int]:
    """(threads, open descriptors) of a live process."""
    threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
    return threads, len(os.listdir(f"/proc/{pid}/fd"))


def _proc(pid: int) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return cpu, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--features", type=int, default=2, help="features per project, 1-3 (a run's length)"
    )
    parser.add_argument("--url", default=None, help="a PostgreSQL fleet (default: embedded)")
    parser.add_argument(
        "--pg", action="store_true", help="a PostgreSQL server of the bench's own (initdb here)"
    )
    parser.add_argument(
        "--machines",
        action="store_true",
        help="the killed worker on a machine of its own (its state and work folders): its "
        "runs are taken over from the PostgreSQL journal and work-tree checkpoint",
    )
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker midway")
    parser.add_argument(
        "--kill-at",
        type=int,
        default=2,
        metavar="N",
        help="kill the first worker once it drives N runs (default 2): takeover at scale "
        "(give --per-worker headroom so the others have slots for them)",
    )
    parser.add_argument(
        "--stagger",
        action="store_true",
        help="start the other workers once the first drives two runs (it gets its share, "
        "they have free slots when it is killed: the takeover is not queued behind them)",
    )
    parser.add_argument(
        "--per-worker",
        type=int,
        default=None,
        help="each worker's --runs (default: runs / workers, no headroom for a takeover)",
    )
    parser.add_argument(
        "--submit-first",
        action="store_true",
        help="submit every run before the workers start (a backlog: how many runs a worker "
        "holds at once is not bounded by how fast runs are submitted); the workers' idle "
        "memory is then read at their first beat, as they start taking runs",
    )
    parser.add_argument(
        "--progress",
        type=float,
        default=60.0,
        help="every this many seconds, a line: run states, each worker's CPU, threads, "
        "descriptors and memory",
    )
    parser.add_argument(
        "--for",
        dest="limit",
        type=float,
        default=None,
        help="stop waiting this many seconds after the timed part began (the workers beat) "
        "and report as of then (the runs not finished are counted as such): a bench on a "
        "shared machine that must end by a given time still prints its figures",
    )
    args = parser.parse_args()
    from tests.fleet.support import Fleet, scripted_project

    base = Path(tempfile.mkdtemp(prefix="harness-bench-fleet-"))
    env = {"HARNESS_STATE_HOME": str(base / "state")}
    os.environ.update(env)
    print(f"load before: {os.getloadavg()}; {os.cpu_count()} cores", flush=True)
    source = scripted_project(base / "source", count=args.features, latency_s=args.latency)
    server = _own_server() if args.pg else None
    url = server.url() if server is not None else args.url
    assert url or not args.machines, "--machines needs a PostgreSQL fleet (--url or --pg)"
    fleet = Fleet(url, base / "fleet", env)
    fleet.home.mkdir()
    away = fleet
    if args.machines:  # another state folder (keys) and work folder: another machine
        (base / "machine-0").mkdir()
        away = Fleet(
            url, base / "machine-0" / "fleet", {"HARNESS_STATE_HOME": str(base / "machine-0")}
        )
        away.home.mkdir()
    per_worker = args.per_worker or -(-args.runs // args.workers)
    workers = [f"w{k}" for k in range(args.workers)]
    fleets = {w: away if k == 0 else fleet for k, w in enumerate(workers)}
    late = workers[1:] if args.stagger else []
    os.environ.update({k: v for k, v in fleet.env.items() if k.startswith("HARNESS_FLEET")})
    from fleet.app import Client
    from fleet.db import FleetDb
    from fleet.place import fleet_place
    from fleet.project import head_of
    from fleet.submit import submit

    db = FleetDb(fleet_place())  # read here, not by a `harness fleet status` process a second

    def submit_all() -> float:
        began = time.monotonic()
        client, head = Client(fleet_place()), head_of(str(source))
        for k in range(args.runs):  # one database and one DBOS client for all submissions
            submit(db, lambda: client, f"b{k:04d}", str(source), base=head)
        client.close()
        return time.monotonic() - began

    submitted = submit_all() if args.submit_first else 0.0
    for w in workers:
        if w not in late:
            fleets[w].start_worker(w, runs=per_worker, lost_after=LOST_AFTER_S)
    _wait_live(db, fleets, [w for w in workers if w not in late])
    idle = {w: _proc(fleets[w].workers[w].pid) for w in workers if w not in late}
    idle_counts = {w: _counts(fleets[w].workers[w].pid)[0] for w in idle}
    started = time.monotonic()
    if not args.submit_first:
        submitted = submit_all()
    peak_running, peak_rss, killed_at, victims = 0, 0, None, set()
    peak_threads: dict[str, int] = {}
    threads_at_peak, fds_at_peak = 0, 0
    last_beat = detected = None
    next_line = time.monotonic() + args.progress
    while True:
        rows = [{"id": r.id, "state": r.state, "worker": r.worker} for r in db.all_runs()]
        running = [r for r in rows if r["state"] == "running"]
        alive = [w for w in workers if w in idle and fleets[w].workers[w].poll() is None]
        counts = {w: _counts(fleets[w].workers[w].pid) for w in alive}
        for w, (threads, _fds) in counts.items():
            peak_threads[w] = max(peak_threads.get(w, 0), threads)
        if len(running) >= peak_running:
            peak_running = len(running)
            peak_rss = sum(_proc(fleets[w].workers[w].pid)[1] - idle[w][1] for w in alive)
            threads_at_peak = sum(t for t, _ in counts.values())
            fds_at_peak = sum(f for _, f in counts.values())
        if time.monotonic() >= next_line:  # a run cut short still says how far it got
            next_line = time.monotonic() + args.progress
            states = {s: sum(r["state"] == s for r in rows) for s in {r["state"] for r in rows}}
            used = {w: (_proc(fleets[w].workers[w].pid), counts[w]) for w in alive}
            print(
                f"{time.monotonic() - started:6.0f} s load {os.getloadavg()[0]:.1f} {states}; "
                + "; ".join(
                    f"{w}: cpu {c:.1f} s, {t} threads, {f} fds, {rss / 2**20:.0f} MB"
                    for w, ((c, rss), (t, f)) in used.items()
                ),
                flush=True,
            )
        mine = [r for r in running if r["worker"] == workers[0]]
        if late and len(mine) >= 2:
            for w in late:
                fleets[w].start_worker(w, runs=per_worker, lost_after=LOST_AFTER_S)
            _wait_live(db, fleets, late)
            idle.update({w: _proc(fleets[w].workers[w].pid) for w in late})
            late = []
            continue
        if not args.no_kill and not late and killed_at is None and len(mine) >= args.kill_at:
            victims = {r["id"] for r in running if r["worker"] == workers[0]}
            cpu_at_kill = _proc(fleets[workers[0]].workers[workers[0]].pid)[0]
            fleets[workers[0]].kill(workers[0])
            killed_at = time.time()
            last_beat = _worker(db, workers[0]).heartbeat
        if killed_at is not None and detected is None and _worker(db, workers[0]).state == "lost":
            detected = time.time()  # within this loop's 1 s
        if rows and all(r["state"] in ("complete", "failed", "budget") for r in rows):
            break
        if args.limit is not None and time.monotonic() - started >= args.limit:
            states = {s: sum(r["state"] == s for r in rows) for s in {r["state"] for r in rows}}
            print(f"--for {args.limit:g} s is up: stopped waiting with {states}", flush=True)
            break
        time.sleep(1)
    wall = time.monotonic() - started
    cpu = sum(_proc(fleets[w].workers[w].pid)[0] - idle[w][0] for w in workers
              if w in idle and fleets[w].workers[w].poll() is None)  # fmt: skip
    if killed_at is not None:
        cpu += cpu_at_kill - idle[workers[0]][0]
    db.close()
    fleet.stop_all()  # before reading the journals: a bench cut short (--for) ends its workers
    away.stop_all()
    steps, overhead, takeover = _journals(fleet, rows, args.latency, killed_at, victims)
    if server is not None:
        server.stop("immediate")
    done = sum(r["state"] == "complete" for r in rows)
    print(f"load after: {os.getloadavg()}")
    _report(args, rows, done, wall, peak_running, peak_rss, cpu, steps, overhead, takeover)
    print(
        f"submitting {args.runs} runs took {submitted:.1f} s; at the peak the workers held "
        f"{threads_at_peak} threads and {fds_at_peak} descriptors in all; most threads of "
        f"one worker at any time: {max(peak_threads.values(), default=0)}; idle workers: "
        f"{sum(idle_counts.values())} threads"
    )
    if takeover and killed_at is not None and last_beat is not None and detected is not None:
        print(
            f"takeover in parts: the killed worker's last beat {killed_at - last_beat:.1f} s "
            f"before the kill; marked lost {detected - last_beat:.1f} s after that beat "
            f"(--lost-after {LOST_AFTER_S:g} s, checked each second; this loop reads it each "
            f"second); its runs' first new step {killed_at + max(takeover) - detected:.1f} s "
            "after it was marked lost (recovery, queue, clone and restore, journal replay, "
            "first step)"
        )
    return 0


def _wait_live(db: Any, fleets: dict[str, Any], ids: list[str]) -> None:
    """Until each worker just started beats (it is up: imports done, DBOS launched), so a kill
    is never timed against a peer still starting."""
    since = time.time()
    while True:
        beating = {w.id for w in db.all_workers() if w.state == "live" and w.started_at >= since}
        if beating.issuperset(ids):
            return
        for w in ids:
            assert fleets[w].workers[w].poll() is None, f"worker {w} exited: see its log"
        time.sleep(0.5)


def _worker(db: Any, worker_id: str) -> Any:
    return next(w for w in db.all_workers() if w.id == worker_id)


def _own_server() -> Any:
    """A PostgreSQL server of the bench's own, on a private socket (the tests' fixture's)."""
    from tests.pg import PgServer, find_bin, unavailable

    reason = unavailable()
    assert reason is None, reason
    bindir = find_bin()
    assert bindir is not None
    server = PgServer(bindir, Path(tempfile.mkdtemp(prefix="harness-bench-pg-")))
    server.init()
    server.start()
    return server


def _journals(
    fleet: Any, rows: list[dict[str, Any]], latency: float, killed_at: float | None,
    victims: set[str],
) -> tuple[int, list[float], list[float]]:  # fmt: skip
    from harness.errors import JournalError
    from harness.journal.protocol import open_reader

    steps, overhead, takeover = 0, [], []
    for row in rows:
        try:
            reader = open_reader(fleet.journal_of(row["id"]))
        except JournalError:
            if row["state"] == "queued":
                continue  # not started when a bench cut short (--for) stopped waiting
            raise
        try:
            found = reader.steps(include_superseded=True)
        finally:
            reader.close()
        steps += len(found)
        for s in found:
            if s.duration is not None:
                overhead.append(max(0.0, s.duration - (latency if s.kind == "llm" else 0.0)))
        if killed_at is not None and row["id"] in victims:
            after = [s.started_at for s in found if s.started_at > killed_at]
            if after:
                takeover.append(min(after) - killed_at)
    return steps, overhead, takeover


def _report(args: Any, rows: list[dict[str, Any]], done: int, wall: float, peak: int,
            rss: int, cpu: float, steps: int, overhead: list[float],
            takeover: list[float]) -> None:  # fmt: skip
    def q(values: list[float], p: float) -> float:
        return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else 0.0

    per_run = rss / max(1, peak) / 2**20
    cpu_step = cpu / max(1, steps) * 1000
    print(json.dumps({"runs": args.runs, "complete": done, "workers": args.workers,
                      "latency_s": args.latency, "wall_s": round(wall, 1)}))  # fmt: skip
    print(
        f"runs at once (peak): {peak} across {args.workers} workers "
        f"({peak / args.workers:.0f} per worker); target 2,000 per machine at 10 s latency"
    )
    print(
        f"memory per run: {per_run:.2f} MB (workers' RSS over idle / runs at once); "
        f"target <= 12 MB: {'met' if per_run <= 12 else 'NOT met'}"
    )
    print(
        f"worker CPU per journaled step: {cpu_step:.2f} ms (harness + model client + DBOS, "
        f"{steps} steps); target harness <= 1 ms outside the model client"
    )
    print(
        f"step overhead (duration less the simulated latency): p50 "
        f"{q(overhead, 50) * 1000:.1f} ms, p99 {q(overhead, 99) * 1000:.1f} ms"
    )
    if takeover:
        worst = max(takeover)
        print(
            f"takeover: kill -> first new step of its {len(takeover)} run(s): median "
            f"{statistics.median(takeover):.1f} s, max {worst:.1f} s; after detection "
            f"(beat silent {LOST_AFTER_S:g} s): max {worst - LOST_AFTER_S:.1f} s; "
            f"target <= 10 s: {'met' if worst - LOST_AFTER_S <= 10 else 'NOT met'}"
        )


if __name__ == "__main__":
    sys.exit(main())
