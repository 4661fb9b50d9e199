"""What stopping one run's leftovers costs when many runs share a worker process.

N local runners in this process each run one command that leaves a daemon behind
(``setsid sleep 600 &``); then every runner is stopped, alternately by the two ways:
  tree   LocalRunner.stop(): the harness's own children (it is their subreaper) and
         everything below those that are the run's (runners/reaper.py)
  scan   the old stop(): read the environment of every process in /proc, kill the
         groups of those carrying the runner's token (reaper.scan)
Prints the median and p90 of one stop per way and N, and the ratio scan / tree. The scan
grows with every process on the machine (N runs' leftovers and everyone else's), the tree
with the stopped run's own processes.

    python bench/stop.py [--runs 10,100,500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runners import reaper
from runners.local import TOKEN_VAR, LocalRunner


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_size(count: int, folder: Path) -> dict[str, list[float]]:
    runners = []
    for index in range(count):
        root = folder / f"r{count}-{index}"
        root.mkdir()
        runner = LocalRunner(root)
        runner.run("setsid sleep 600 >/dev/null 2>&1 & echo ok")
        runners.append(runner)
    times: dict[str, list[float]] = {"tree": [], "scan": []}
    for index, runner in enumerate(runners):
        way = "tree" if index % 2 == 0 else "scan"
        started = time.perf_counter()
        if way == "tree":
            runner.stop()
        else:
            reaper.scan(f"{TOKEN_VAR}={runner.token}".encode())
        times[way].append(time.perf_counter() - started)
        if way == "scan":
            runner.stop()  # collect the zombies the scan leaves (not timed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="10,100,500", help="comma-separated sizes")
    args = parser.parse_args()
    if not reaper.adopt_orphans():
        print("no child subreaper here: LocalRunner.stop() scans /proc (nothing to compare)")
        return 1
    print(f"command: python bench/stop.py --runs {args.runs}")
    print(
        f"{'runs':>6} {'tree p50':>10} {'tree p90':>10} {'scan p50':>10} {'scan p90':>10} "
        f"{'ratio':>7}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-stop-") as tmp:
        for count in (int(part) for part in args.runs.split(",")):
            times = one_size(count, Path(tmp))
            tree, scan = statistics.median(times["tree"]), statistics.median(times["scan"])
            print(
                f"{count:>6} {tree * 1e3:>8.2f}ms {pct(times['tree'], 0.9) * 1e3:>8.2f}ms "
                f"{scan * 1e3:>8.2f}ms {pct(times['scan'], 0.9) * 1e3:>8.2f}ms "
                f"{scan / tree:>6.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
