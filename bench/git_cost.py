"""Cost of one harness git command and of `harness status`, config check cached or not.

In one process, on a copy of templates/example/ with one commit whose config has settled
(older than the stamp's settle time, as a project's config is), interleaved runs of:

- ``git rev-parse HEAD`` bare (hardened, no config check);
- the same through ``run_git`` as before the cache (``git config --list`` every time);
- the same through ``run_git`` with the check cached under the config's stamp;
- `harness status` in this process, checking every time (before), with a cold cache as
  a fresh process has (after), and with a warm one (a long-running `harness run`).

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
    from artifacts.git_safety import GitConfigRefused, _run_unchecked, dangerous_config, run_git
    from artifacts.git_stamp import SETTLE_S
    from harness.cli import main as harness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 runs instead of 200")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (30 if args.quick else 200)
    cached_check = git_safety.check_config

    def uncached_check(root: Path) -> None:  # check_config as it was before the cache
        found = dangerous_config(root)
        if found:
            raise GitConfigRefused(root, found)

    def status(root: Path) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            assert harness(["-C", str(root), "status"]) == 0

    with tempfile.TemporaryDirectory() as folder:
        root = make_project(Path(folder))
        time.sleep(SETTLE_S + 0.5)  # the config is older than the settle time

        def before_git() -> None:
            uncached_check(root)
            _run_unchecked(root, "rev-parse", "HEAD")

        def before_status() -> None:
            git_safety.check_config = uncached_check
            try:
                status(root)
            finally:
                git_safety.check_config = cached_check

        def cold_status() -> None:
            git_safety._CHECKED.clear()
            status(root)

        cases: dict[str, Callable[[], object]] = {
            "git rev-parse bare": lambda: _run_unchecked(root, "rev-parse", "HEAD"),
            "run_git, check every time": before_git,
            "run_git, check cached": lambda: run_git(root, "rev-parse", "HEAD"),
            "status, check every time": before_status,
            "status, cold cache": cold_status,
            "status, warm cache": lambda: status(root),
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
        f"check per git command: {med['run_git, check every time'] - bare:.2f} ms before, "
        f"{med['run_git, check cached'] - bare:.2f} ms cached; run_git "
        f"{med['run_git, check every time'] / med['run_git, check cached']:.2f}x faster"
    )
    print(
        f"harness status (in process): {med['status, check every time']:.1f} ms before, "
        f"{med['status, cold cache']:.1f} ms with a fresh process's cold cache "
        f"({med['status, check every time'] - med['status, cold cache']:+.1f} ms saved), "
        f"{med['status, warm cache']:.1f} ms warm"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
