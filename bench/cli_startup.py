"""Wall time of `harness status` (and `harness --help`) against `python -c pass`.

Runs each command N times (20; 5 with --quick) in fresh processes on templates/example/
(copied to a temporary folder with a git repository, so `status` sees a real head), and
prints the minimum, median, p90 and p99, the difference to the bare interpreter and whether the
target (status at most 0.25 s above `python -c pass`) is met.

    python bench/cli_startup.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.25
EXAMPLE = Path(__file__).resolve().parents[1] / "templates" / "example"


def make_project(folder: Path) -> Path:
    """A copy of the example project (or a minimal equivalent) with one git commit."""
    root = folder / "project"
    if EXAMPLE.is_dir():
        shutil.copytree(EXAMPLE, root)
    else:
        root.mkdir()
        (root / "feature_list.json").write_text(
            '{"version": 1, "features": [{"id": "F001", "category": "functional", '
            '"description": "it works", "steps": ["run it"], "priority": 1}]}\n'
        )
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@localhost"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@localhost"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "example"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    return root


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Wall seconds of ``runs`` runs of each command, interleaved (after one warm-up each).

    Interleaving spreads the noise of other work on the machine over every command alike.
    """
    for command in commands.values():
        subprocess.run(command, capture_output=True, check=True)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    return times


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 20")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 20)
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        root = make_project(Path(folder))
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "harness --help": [python, "-m", "harness", "--help"],
            "harness status": [python, "-m", "harness", "-C", str(root), "status"],
            "harness status --json": [python, "-m", "harness", "-C", str(root), "status", "--json"],
        }
        results = measure(commands, runs)
    base = statistics.median(results["python -c pass"])
    print(f"{runs} runs each; wall time in seconds")
    print(f"{'command':24} {'min':>8} {'median':>8} {'p90':>8} {'p99':>8} {'- python':>9}")
    for name, times in results.items():
        median = statistics.median(times)
        p90, p99 = quantile(times, 0.9), quantile(times, 0.99)
        print(
            f"{name:24} {min(times):8.3f} {median:8.3f} {p90:8.3f} {p99:8.3f} {median - base:+9.3f}"
        )
    over = statistics.median(results["harness status"]) - base
    verdict = "met" if over <= TARGET_S else "NOT met"
    print(
        f"target: harness status at most {TARGET_S:.2f} s above python -c pass: {verdict} "
        f"({over:.3f} s above)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
