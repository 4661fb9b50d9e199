"""Cost of the sweep before the fleet's git reads a run's clone, against git's own cost.

A clone with a source tree (300 tracked files in 30 folders) and an ignored virtual
environment (``.venv/``, N files in N/10 folders, as a project's dependencies are). In one
process, interleaved, medians of the CPU time of this process (and wall time) of:

- the whole-tree sweep (``clear_blockers``: what the fleet did before each git command);
- ``artifacts.git_sweep.Sweep.clear`` once it has walked the tree (what it does now: the ignored
  folder is left out while nothing that decides it changed);
- ``git status`` itself (a child process: wall time only).

    python bench/git_sweep.py [--files N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from artifacts.git_blockers import clear_blockers
from artifacts.git_sweep import Sweep
from fleet.hostgit import git


def make_clone(root: Path, files: int) -> None:
    root.mkdir()

    def run(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, capture_output=True, check=True)

    run("init", "-q", "-b", "main")
    run("config", "user.name", "Bench")
    run("config", "user.email", "bench@example.org")
    (root / ".gitignore").write_text(".venv/\n")
    for index in range(300):
        source = root / "src" / f"part{index // 10}"
        source.mkdir(parents=True, exist_ok=True)
        (source / f"mod{index % 10}.py").write_text(f"X = {index}\n")
    run("add", ".gitignore", "src")
    run("commit", "-q", "-m", "base")
    for index in range(files):
        folder = root / ".venv" / "lib" / f"pkg{index // 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{index % 10}.py").write_text("x = 1\n")


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return (time.process_time() - cpu) * 1e3, (time.perf_counter() - wall) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000, help="files in the ignored tree")
    parser.add_argument("--runs", type=int, default=9, help="interleaved rounds (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        root = Path(folder) / "clone"
        make_clone(root, args.files)
        sweep = Sweep(root)
        sweep.clear(git)  # the first: the whole tree, and git's answer
        status = ["git", "status", "--porcelain=v2", "-z", "--untracked-files=all"]
        rows: dict[str, list[tuple[float, float]]] = {"whole": [], "sweep": [], "git": []}
        for _ in range(args.runs):
            rows["whole"].append(timed(lambda: clear_blockers(root)))
            rows["sweep"].append(timed(lambda: sweep.clear(git)))
            rows["git"].append(timed(lambda: subprocess.run(status, cwd=root, capture_output=True)))
    cpu = {k: statistics.median(c for c, _ in v) for k, v in rows.items()}
    wall = {k: statistics.median(w for _, w in v) for k, v in rows.items()}
    print(f"clone with {args.files:,} ignored files; medians of {args.runs} interleaved rounds")
    print(f"{'':<34} {'CPU ms':>8} {'wall ms':>8}")
    print(f"{'whole-tree sweep (before)':<34} {cpu['whole']:>8.2f} {wall['whole']:>8.2f}")
    print(f"{'Sweep.clear (now)':<34} {cpu['sweep']:>8.2f} {wall['sweep']:>8.2f}")
    print(f"{'git status (child process)':<34} {'-':>8} {wall['git']:>8.2f}")
    print(
        f"now/before: {cpu['sweep'] / cpu['whole']:.3f} (CPU), "
        f"{wall['sweep'] / wall['whole']:.3f} (wall); now/git status (wall): "
        f"{wall['sweep'] / wall['git']:.2f}; whole-tree sweeps made by the Sweep: {sweep.full}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
