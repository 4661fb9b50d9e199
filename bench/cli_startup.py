"""Wall time of `harness status` (and `harness --help`) against `python -c pass`.

Runs each command N times (20; 5 with --quick) in fresh processes on templates/example/
(copied to a temporary folder with a git repository, so `status` sees a real head), and
prints the minimum, median, p90 and p99, the difference to the bare interpreter and whether the
target (status at most 0.25 s above `python -c pass`) is met.

With ``--base REV`` the same commands also run with REV's code (its tree checked out in a
git worktree and imported by path, as bench/resume.py does), this and the base alternating
run by run, and each command's median wall and CPU seconds (the child's own user + system
time: the machine's load shows in wall time, hardly in CPU) are printed side by side with
the ratio base / this: before and after in one run.

    python bench/cli_startup.py [--quick] [--runs N] [--base REV]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.25
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "templates" / "example"


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


def child_cpu(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one run of ``command`` in a fresh process started in ``cwd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def against_base(commands: dict[str, list[str]], base: Path, runs: int) -> None:
    """Each command with this checkout's code and with ``base``'s, alternating which goes
    first, ``runs`` times; the medians and the ratio base / this."""
    # `python -m` imports from its working folder first: each code runs in its own tree.
    # With the bytecode caches a user's install has (PYTHONDONTWRITEBYTECODE would make every
    # start of the base, a fresh checkout, compile its sources again).
    ours = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    codes = {"this": (ours, ROOT), "base": ({**ours, "PYTHONPATH": str(base)}, base)}
    found: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for name, command in commands.items():
        for env, cwd in codes.values():  # a warm-up each (bytecode caches)
            child_cpu(command, env, cwd)
        for run in range(runs):
            order = list(codes.items())[:: 1 if run % 2 else -1]
            for code, (env, cwd) in order:
                found.setdefault((name, code), []).append(child_cpu(command, env, cwd))
    print(f"{runs} runs each, this and base alternating; median wall s / CPU s; load "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'command':24} {'this':>15} {'base':>15} {'base/this CPU':>14} {'wall':>6}")
    for name in commands:
        now = [statistics.median(x[i] for x in found[(name, "this")]) for i in (0, 1)]
        then = [statistics.median(x[i] for x in found[(name, "base")]) for i in (0, 1)]
        cpu, wall = then[1] / max(now[1], 1e-6), then[0] / max(now[0], 1e-6)
        print(f"{name:24} {now[0]:6.3f} / {now[1]:5.3f} {then[0]:6.3f} / {then[1]:5.3f} "
              f"{cpu:13.2f}x {wall:5.2f}x")  # fmt: skip


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 20")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--base", default="", help="also run the commands with REV's code")
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
        if args.base:
            commands["harness --version"] = [python, "-m", "harness", "--version"]
            base = Path(folder) / "base"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach",
                            str(base), args.base], check=True)  # fmt: skip
            try:
                against_base(commands, base, runs)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(base)], check=False)  # fmt: skip
            print(f"command: python bench/cli_startup.py --runs {runs} --base {args.base}")
            return 0
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
