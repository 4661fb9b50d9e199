"""What watching costs: per-step journal overhead with no observer, with the progress
lines (`harness run`) and with the `--json` stream (`harness run --json`).

Each variant records the same loop of trivial steps in a fresh journal (synchronous
NORMAL); the observers write to /dev/null so the terminal is not measured.

    python bench/live.py            # 2,000 steps, 3 rounds
    python bench/live.py --quick    # 300 steps, 1 round
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def loop(steps: int, observers: list[Any]) -> list[float]:
    from harness.events import Events
    from harness.journal import Journal

    with tempfile.TemporaryDirectory() as folder:
        journal = Journal.open(Path(folder) / ".harness", events=Events(*observers))
        session = journal.start_run("bench").session(1)
        samples = []
        for k in range(steps):
            t0 = time.perf_counter()
            session.step("tool", "noop", {"k": k}, lambda: {"ok": True})
            samples.append(time.perf_counter() - t0)
        journal.close()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    steps, rounds = (300, 1) if args.quick else (2000, 3)
    from harness.cli.live import JsonStream, ProgressLines

    sink = open(os.devnull, "w")  # noqa: SIM115 (for the whole run)
    variants = {
        "no observer": lambda: [],
        "progress lines": lambda: [ProgressLines(sink)],
        "progress lines + --json": lambda: [ProgressLines(sink), JsonStream(sink)],
    }
    results: dict[str, float] = {}
    for name, make in variants.items():
        medians = [statistics.median(loop(steps, make())) for _ in range(rounds)]
        results[name] = statistics.median(medians) * 1e6
    base = results["no observer"]
    print(f"{steps} steps x {rounds} round(s), median per step:")
    for name, us in results.items():
        extra = "" if name == "no observer" else f"  (+{us - base:.1f} us)"
        print(f"  {name:<26} {us:7.1f} us{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
