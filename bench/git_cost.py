"""Cost of one harness git command and of `harness status`, config check cached or not.

In one process, on a copy of templates/example/ with one commit (its config seconds old:
the verdict is kept under the config's bytes, whatever their age), interleaved runs of:

- ``git rev-parse HEAD`` bare (hardened, no config check);
- the same through ``run_git`` given no ConfigChecks (``git config`` every time);
- the same through ``run_git`` with a run's ConfigChecks, its verdict kept under the
  config's bytes (a long-running `harness run` passes its own to its git calls);
- `harness status` in this process, checking at every git command (before), and with
  the ConfigChecks each status makes for its own git calls (now).

Prints medians (and p90) in milliseconds and the ratios.

    python bench/git_cost.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli_startup import make_project, quantile


def main() -> int:
    from artifacts import git_safety
    from artifacts.git_safety import GitConfigRefused, dangerous_config, run_git, run_git_unchecked
    from harness.cli import main as harness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 runs instead of 200")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (30 if args.quick else 200)
    checking = git_safety.ConfigChecks.check

    def every_time(self: git_safety.ConfigChecks, root: Path) -> None:  # nothing kept
        found = dangerous_config(root)
        if found:
            raise GitConfigRefused(root, found)

    def status(root: Path) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            assert harness(["-C", str(root), "status"]) == 0

    with tempfile.TemporaryDirectory() as folder:
        root = make_project(Path(folder))
        checks = git_safety.ConfigChecks()  # a run's

        def before_status() -> None:
            git_safety.ConfigChecks.check = every_time  # type: ignore[method-assign]
            try:
                status(root)
            finally:
                git_safety.ConfigChecks.check = checking  # type: ignore[method-assign]

        cases: dict[str, Callable[[], object]] = {
            "git rev-parse bare": lambda: run_git_unchecked(root, "rev-parse", "HEAD"),
            "run_git, check every time": lambda: run_git(root, "rev-parse", "HEAD"),
            "run_git, the run checks": lambda: run_git(root, "rev-parse", "HEAD", checks=checks),
            "status, check every time": before_status,
            "status, its own checks": lambda: status(root),
        }
        for case in cases.values():
            case()  # warm-up (imports, the first check)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, case in cases.items():
                start = time.perf_counter()
                case()
                times[name].append((time.perf_counter() - start) * 1000)
    print(f"{runs} runs each, interleaved, in one process; milliseconds")
    print(f"{'case':28} {'median':>8} {'p90':>8}")
    for name, values in times.items():
        print(f"{name:28} {statistics.median(values):8.2f} {quantile(values, 0.9):8.2f}")
    med = {name: statistics.median(values) for name, values in times.items()}
    bare = med["git rev-parse bare"]
    print(
        f"check per git command: {med['run_git, check every time'] - bare:.2f} ms unkept, "
        f"{med['run_git, the run checks'] - bare:.2f} ms with a run's checks; run_git "
        f"{med['run_git, check every time'] / med['run_git, the run checks']:.2f}x faster"
    )
    print(
        f"harness status (in process): {med['status, check every time']:.1f} ms checking "
        f"every time, {med['status, its own checks']:.1f} ms with its own checks "
        f"({med['status, check every time'] - med['status, its own checks']:+.1f} ms saved)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
