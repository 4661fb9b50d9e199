"""Journal benchmark: per-step overhead on each store, resume and replay of 10,000 steps,
the read commands on a long journal, the open-time check.

Side by side in one run, over the same loop of trivial steps, each in its own process,
five rounds (``--rounds``) interleaved in a shuffled order (machine noise hits every way
alike), the median of the rounds' medians reported:
- the journal on SQLite (synchronous NORMAL; NORMAL without the chain's MACs; FULL), in
  memory, and on PostgreSQL (a server this bench starts on a unix socket, as the tests do,
  with synchronous_commit off and on);
- the journal of a base commit (``--base``, default ``HEAD~1``) on SQLite NORMAL: its tree
  checked out in a git worktree and imported by path, so "no slower than before" is read in
  the same run, not against a number from another day;
- SQLite alone with the journal's schema (the floor), DBOS (SQLite) and LangGraph's SQLite
  checkpointer where installed (``pip install -e '.[bench]'``).
Each loop row also gives the process's CPU time per step (every thread; not for
PostgreSQL, whose work is in the server): on a loaded machine the wall medians count the
wait for a core, so "no slower than the base" is shown on both. This checkout and the base
run back to back in each round, which goes first alternating, and each round gives a ratio
(this / base, wall and CPU): the report is the median of those ratios and the interval the
rounds themselves measure (95%, distribution-free), so the noise is the run's own figure.
Then, for each store: replay of 10,000 recorded steps (open, check every row's chain,
replay) and resume (spawn to the first new step after a SIGKILL in step 10,001); `harness
status` and `harness log` on a project whose journal holds 10,000 steps; the check every
`harness run` makes when it opens its SQLite journal.

    python bench/journal.py              # 1,000-step loops, 5 rounds
    python bench/journal.py --quick      # 300-step loops, 1 round
    python bench/journal.py --base REV   # the journal of REV beside this one
    python bench/journal.py --base REV --ab --rounds 30   # only this against REV, per step
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import journal_ab

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
LONG = 10_000
TARGETS = {  # SQLite NORMAL against the base: journal_ab (the median per-round ratio)
    "PostgreSQL sync off within 10x of SQLite NORMAL": 10.0,
    "status and log within 0.5 s at 10,000 steps": 0.5,
    "replay of 10,000 steps within 0.5 s (SQLite)": 0.5,
    "open-time check of 100,000 steps within 50 ms (full quick_check)": 50.0,
}


def child(part: str, workdir: Path, *extra: str, pythonpath: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    argv = [sys.executable, str(HERE), "--part", part, "--workdir", str(workdir), *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env,
                          cwd=pythonpath or REPO)  # fmt: skip
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["(no output)"])[-1]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def resume(workdir: Path, backend: str, url: str, steps: int) -> dict[str, Any]:
    """Seconds from spawning a process to its first new step, after a SIGKILL in step
    ``steps + 1`` (``steps`` recorded steps to replay first)."""
    base = ["--backend", backend, "--url", url, "--steps", str(steps + 5)]
    argv = [sys.executable, str(HERE), "--part", "worker", "--workdir", str(workdir), *base]
    first = subprocess.run([*argv, "--die-at", str(steps + 1)], capture_output=True, text=True)
    if first.returncode != -signal.SIGKILL:
        return {"error": f"the first process did not die: {first.stderr.strip()[-200:]}"}
    mark = workdir / "first_new.txt"
    spawned = time.time()
    second = subprocess.run([*argv, "--mark", str(mark)], capture_output=True, text=True)
    if second.returncode != 0 or not mark.exists():
        return {"error": f"the resumed process failed: {second.stderr.strip()[-200:]}"}
    return {"seconds": float(mark.read_text()) - spawned}


def base_tree(base: str, root: Path) -> Path | None:
    """A worktree of ``base`` (its journal imported by path), or None if git cannot."""
    target = root / "base"
    done = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q",
                           str(target), base], capture_output=True, text=True)  # fmt: skip
    return target if done.returncode == 0 else None


def peer_available(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def run_all(quick: bool, base: str, rounds: int, ab: bool) -> int:
    sys.path.insert(0, str(REPO))
    from tests.pg import PgServer, find_bin, unavailable

    steps, loops = (300, 1) if quick else (1000, 5)
    loops = rounds or loops
    root = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    os.environ["HARNESS_STATE_HOME"] = str(root / "state-home")  # throwaway keys
    counter = iter(range(10**6))

    def fresh(name: str) -> Path:
        path = root / f"{name}-{next(counter)}"
        path.mkdir(parents=True)
        return path

    server: PgServer | None = None
    reason = "not measured with --ab" if ab else unavailable()
    if reason is None:
        bindir = find_bin()
        assert bindir is not None
        server = PgServer(bindir, Path(tempfile.mkdtemp(prefix="bench-journal-pg-")))
        try:
            server.init()
            server.start()
        except subprocess.CalledProcessError as error:
            reason = f"PostgreSQL did not start: {error.stderr.strip()[-200:]}"
            shutil.rmtree(server.base, ignore_errors=True)
            server = None

    def pg_url(sync: str) -> str:
        assert server is not None
        return server.new_schema(synchronous_commit=sync)

    basedir = base_tree(base, root)
    try:
        if ab:
            return _ab_only(steps, loops, base, basedir, fresh)
        return _measure(quick, steps, loops, base, basedir, server, pg_url, fresh, reason)
    finally:
        if server is not None:
            server.stop("immediate")
            shutil.rmtree(server.base, ignore_errors=True)
        if basedir is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(basedir)], capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _measure(quick: bool, steps: int, loops: int, base: str, basedir: Path | None,
             server: Any, pg_url: Any, fresh: Any, pg_reason: str | None) -> int:  # fmt: skip
    ways: dict[str, tuple[str, ...]] = {
        "SQLite NORMAL": ("loop", "--backend", "sqlite"),
        f"SQLite NORMAL, base {base}": ("loop", "--backend", "sqlite", "--base"),
        "SQLite NORMAL, no chain": ("loop", "--backend", "sqlite", "--no-chain"),
        "SQLite FULL": ("loop", "--backend", "sqlite-full"),
        "memory": ("loop", "--backend", "memory"),
        "PostgreSQL, sync off": ("loop", "--backend", "postgres", "--sync", "off"),
        "PostgreSQL, sync on": ("loop", "--backend", "postgres", "--sync", "on"),
        "SQLite alone, 1 commit": ("loop-sqlite",),
    }
    print(f"per-step overhead over a {steps}-step loop ({loops} round(s) interleaved)...")
    pair = ("SQLite NORMAL", f"SQLite NORMAL, base {base}")
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in ways}
    for r in range(loops):
        order = [item for item in ways.items() if item[0] not in pair]
        shuffle = random.Random(r)
        shuffle.shuffle(order)
        at = shuffle.randrange(len(order) + 1)
        order[at:at] = [(name, ways[name]) for name in journal_ab.pair_order(r, *pair)]
        for name, (part, *extra) in order:
            rounds[name].append(_way(part, extra, steps, basedir, server, pg_url, fresh,
                                     pg_reason))  # fmt: skip
    rows = {name: _median(results) for name, results in rounds.items()}
    ab_targets = journal_ab.report(rounds[pair[0]], rounds[pair[1]], f"base {base}")
    for name, module, part in (("DBOS (SQLite)", "dbos", "loop-dbos"),
                               ("LangGraph (SqliteSaver)", "langgraph.checkpoint.sqlite",
                                "loop-langgraph")):  # fmt: skip
        if peer_available(module):
            rows[name] = child(part, fresh(part), "--steps", str(steps))
        else:
            rows[name] = {"error": "not installed (pip install -e '.[bench]')"}

    print(f"replay and resume of {LONG:,} recorded steps on each store...")
    stores = {"SQLite": ("sqlite", ""), "memory": ("memory", "")}
    if server is not None:
        stores["PostgreSQL, sync off"] = ("postgres", "off")
    long_rows: dict[str, dict[str, Any]] = {}
    for label, (backend, sync) in stores.items():
        url = pg_url(sync) if backend == "postgres" else ""
        common = ("--backend", backend, "--url", url, "--steps", str(LONG))
        folder = fresh("replay")
        got = child("replay", folder, *common, "--record")
        if "error" not in got and backend != "memory":
            got = child("replay", folder, *common)
        found = {"replay_s": got.get("seconds"), "error": got.get("error")}
        if backend == "memory":
            found["resume_s"] = None  # a process's memory does not outlive its SIGKILL
        else:
            again = resume(fresh("resume"), backend, pg_url(sync) if url else "", LONG)
            found["resume_s"] = again.get("seconds")
            found["error"] = found["error"] or again.get("error")
        long_rows[label] = found

    print(f"`harness status` and `harness log` on a journal of {LONG:,} steps...")
    read_rows: dict[str, dict[str, Any]] = {}
    for label, (backend, sync) in stores.items():
        if backend == "memory":
            continue
        url = pg_url(sync) if backend == "postgres" else ""
        folder = fresh("readers")
        common = ("--backend", backend, "--url", url, "--steps", str(LONG))
        made = child("readers", folder, *common, "--record")
        read_rows[label] = made if "error" in made else child("readers", folder, *common)

    print("open-time check of SQLite journals of 10,000 and 100,000 steps...")
    opened: dict[int, dict[str, Any]] = {}
    for size in (10_000,) if quick else (10_000, 100_000):
        folder = fresh("open")
        made = child("open-check", folder, "--steps", str(size), "--record")
        opened[size] = made if "error" in made else child("open-check", folder, "--steps",
                                                           str(size))  # fmt: skip
    return _report(rows, long_rows, read_rows, opened, base, ab_targets)


def _ab_only(steps: int, loops: int, base: str, basedir: Path | None, fresh: Any) -> int:
    """This checkout's SQLite NORMAL loop against the base's, ``loops`` rounds, nothing else."""
    print(
        f"per step, SQLite NORMAL, this against base {base}: {loops} rounds of a {steps}-step"
        f" loop each (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)..."
    )
    ways = {"this": ("loop", "--backend", "sqlite"),
            "base": ("loop", "--backend", "sqlite", "--base")}  # fmt: skip
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in ways}
    for r in range(loops):
        for name in journal_ab.pair_order(r, "this", "base"):
            part, *extra = ways[name]
            rounds[name].append(_way(part, extra, steps, basedir, None, None, fresh, None))
    for name, results in rounds.items():
        errors = [got["error"] for got in results if "error" in got]
        row = _median(results)
        if errors:
            print(f"{name}: {len(errors)} round(s) failed: {errors[0]}")
        if "median_us" in row:
            print(f"{name:<6} median of the rounds: {row['median_us']:.1f} µs wall (per-step "
                  f"median), {row.get('cpu_us', float('nan')):.1f} µs CPU per step")  # fmt: skip
    targets = journal_ab.report(rounds["this"], rounds["base"], f"base {base}")
    print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    print()
    for label in targets:
        print(f"target: {label}")
    return 0


def _way(part: str, extra: list[str], steps: int, basedir: Path | None, server: Any,
         pg_url: Any, fresh: Any, pg_reason: str | None) -> dict[str, Any]:  # fmt: skip
    args = list(extra)
    pythonpath = None
    if "--base" in args:
        args.remove("--base")
        if basedir is None:
            return {"error": "the base commit could not be checked out"}
        pythonpath = basedir
    if "--sync" in args:
        at = args.index("--sync")
        sync = args[at + 1]
        del args[at : at + 2]
        if server is None:
            return {"error": pg_reason or "no PostgreSQL"}
        args += ["--url", pg_url(sync)]
    return child(part, fresh("loop"), "--steps", str(steps), *args, pythonpath=pythonpath)


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    good = [got for got in results if "error" not in got]
    if not good:
        return results[0]
    keys = [k for k in ("median_us", "p99_us", "cpu_us") if all(k in got for got in good)]
    return {key: statistics.median(got[key] for got in good) for key in keys}


def _report(rows: dict[str, dict[str, Any]], long_rows: dict[str, dict[str, Any]],
            read_rows: dict[str, dict[str, Any]], opened: dict[int, dict[str, Any]],
            base: str, ab_targets: list[str]) -> int:  # fmt: skip
    from journal_parts import mac_cost_us

    ours = rows["SQLite NORMAL"].get("median_us")
    ours_cpu = rows["SQLite NORMAL"].get("cpu_us")
    print(f"\n{'per-step overhead':<30}{'median µs':>12}{'p99 µs':>12}{'vs SQLite':>12}"
          f"{'CPU µs':>10}{'vs SQLite':>12}")  # fmt: skip
    for name, row in rows.items():
        if "error" in row:
            print(f"{name:<30}  unavailable: {row['error']}")
            continue
        versus = f"{row['median_us'] / ours:.2f}x" if ours else "n/a"
        cpu = row.get("cpu_us")
        cpu_text = (
            ""
            if cpu is None
            else f"{cpu:>10,.1f}" + (f"{cpu / ours_cpu:>11.2f}x" if ours_cpu else "")
        )
        print(f"{name:<30}{row['median_us']:>12,.1f}{row['p99_us']:>12,.1f}{versus:>12}{cpu_text}")
    print("  CPU: the process's CPU time over the loop per step (not for PostgreSQL, whose")
    print("  work is in the server); on a loaded machine wall times count the wait for a core")
    print(f"\n{f'{LONG:,} recorded steps':<30}{'replay s':>12}{'resume s':>12}")
    for label, found in long_rows.items():
        replay = "n/a" if found.get("replay_s") is None else f"{found['replay_s']:.3f}"
        again = "n/a" if found.get("resume_s") is None else f"{found['resume_s']:.3f}"
        note = f"  ({found['error']})" if found.get("error") else ""
        print(f"{label:<30}{replay:>12}{again:>12}{note}")
    print("  replay: open, check every row's chain, replay (memory: in one process);")
    print("  resume: spawn to the first new step after a SIGKILL in the next step")
    print(f"\n{'read commands, ' + f'{LONG:,} steps':<30}{'status s':>12}{'log s':>12}"
          f"{'status CPU':>12}{'log CPU':>12}")  # fmt: skip
    for label, found in read_rows.items():
        if "error" in found:
            print(f"{label:<30}  unavailable: {found['error']}")
        else:
            print(f"{label:<30}{found['status']:>12.3f}{found['log']:>12.3f}"
                  f"{found['status_cpu']:>12.3f}{found['log_cpu']:>12.3f}")  # fmt: skip
    print(
        f"  wall and CPU seconds of a fresh `harness` process (load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall counts the wait for a core)"
    )
    print(f"\n{'SQLite open-time check (ms)':<30}{'stamped':>12}{'full open':>12}"
          f"{'quick_check':>12}{'file MB':>10}")  # fmt: skip
    for size, got in opened.items():
        if "error" in got:
            print(f"{size:>12,} steps{'':<12}  unavailable: {got['error']}")
        else:
            print(f"{size:>12,} steps{'':<12}{got['open_ms']:>12.1f}{got['full_open_ms']:>12.1f}"
                  f"{got['quick_check_ms']:>12.1f}{got['mb']:>10.1f}")  # fmt: skip

    def ratio(name: str) -> float | None:
        value = rows.get(name, {}).get("median_us")
        return value / ours if value and ours else None

    notes = [f"the chain's two MACs alone (timeit, no I/O): {mac_cost_us():.1f} µs a step"]
    for name in rows:
        if name != "SQLite NORMAL" and ratio(name) is not None:
            notes.append(f"{name}: {ratio(name):.2f}x SQLite NORMAL")
    off = ratio("PostgreSQL, sync off")
    sqlite_long = long_rows.get("SQLite", {})
    reads = [found[k] for found in read_rows.values() if "error" not in found
             for k in ("status", "log")]  # fmt: skip
    biggest = opened.get(100_000, {})
    names = list(TARGETS)
    checks = [
        (names[0], off is not None and off <= TARGETS[names[0]]),
        (names[1], bool(reads) and max(reads) <= TARGETS[names[1]]),
        (names[2], (sqlite_long.get("replay_s") or 99) <= TARGETS[names[2]]),
        (names[3], biggest.get("full_open_ms", 999) <= TARGETS[names[3]]),
    ]
    print()
    for note in notes:
        print(f"ratio: {note}")
    for label in ab_targets:
        print(f"target: {label}")
    for label, ok in checks:
        print(f"target: {label}: {'met' if ok else 'NOT met'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300-step loops, 1 round")
    parser.add_argument("--base", default="HEAD~1", help="the commit whose journal to compare")
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds of the per-step loops (default 5, --quick 1)"
    )
    parser.add_argument(
        "--ab",
        action="store_true",
        help="only the per-step loop of SQLite NORMAL against the base's",
    )
    for hidden in ("--part", "--workdir", "--backend", "--url", "--mark"):
        parser.add_argument(hidden, default="", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--die-at", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-chain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.part:
        return run_all(args.quick, args.base, args.rounds, args.ab)
    sys.path.insert(0, str(HERE.parent))
    from journal_parts import run_part

    result = run_part(args)
    if result is not None:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
