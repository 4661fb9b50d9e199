"""The TUI's two numbers: question-to-screen latency, and start time with 100,000 steps.

1. A question stored by another process (a long-lived child asking through
   `QuestionStore.ask`) until a running TUI has drawn it (the app's `apply` on the UI
   thread): median and p99 over N questions (20; 8 with --quick). Target: median < 1 s.
   Alternative: the same app with watchdog off (a 1 s poll only).
2. Start time: a fresh process from launch until the first data is drawn (headless
   Textual, 120x40), on a journal of 100,000 steps built through the journal API, against
   a 100-step journal; and the quit time once loaded. Alternative: reading every step through
   `Journal.steps()` (what a naive viewer would do) against the tail read.

    python bench/tui.py [--quick] [--steps N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY_TARGET_S = 1.0
START_RATIO_TARGET = 1.5  # start time must not grow with the journal
ASKER = """
import sys, time
from pathlib import Path
from escalation.questions import QuestionStore
store = QuestionStore(Path(sys.argv[1]) / ".harness")
print("ready", flush=True)
for line in sys.stdin:
    q = store.ask("question", "bench question " + line.strip(), reason="bench")
    print(q.id, time.time(), flush=True)
"""
STARTER = """
import asyncio, sys, time
from pathlib import Path
from tui.app import HarnessApp
async def main():
    app = HarnessApp(Path(sys.argv[1]))
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.ready.is_set():
            await pilot.pause(0.005)
        ready = time.time()
        shown = len(app.query_one("#steps-table").rows)
        for _ in range(400):  # settled: the runner panel drawn too (a later, slower read)
            if app.query_one("#runner").view.kind != "?":
                break
            await pilot.pause(0.005)
        quit_at = time.perf_counter()
        await pilot.press("q")
    print(ready, time.perf_counter() - quit_at, shown, flush=True)
asyncio.run(main())
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def make_project(root: Path) -> Path:
    """A project with 8 features, 3 passing."""
    from artifacts.feature_list import dump_feature_list
    from artifacts.models import Evidence, Feature, FeatureList

    at = datetime(2025, 1, 1, tzinfo=UTC)
    features = []
    for i in range(8):
        ev = Evidence(verification="journal:r/1/1", at=at, exit_code=0, output_digest="sha256:0")
        features.append(
            Feature(id=f"F{i:03d}", category="functional", description=f"feature {i}",
                    steps=["run"], priority=i, passes=i < 3, evidence=ev if i < 3 else None)
        )  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    (root / "feature_list.json").write_text(dump_feature_list(FeatureList(features=features)))
    return root


def build_journal(root: Path, steps: int, per_session: int = 500) -> float:
    """Write `steps` steps through the journal API; return the seconds it took."""
    from harness.journal import Journal

    started = time.perf_counter()
    journal = Journal.open(root / ".harness")
    run = journal.start_run()
    out = {"ok": True, "usage": {"total_tokens": 50, "cost_usd": 0.0005}}
    for number in range(1, steps // per_session + 1):
        session = run.session(number)
        for i in range(per_session):
            session.step("tool", "write_file", {"i": i}, lambda: out)
        session.close("passing", {"feature": "F001"})
    run.finish("complete", {})
    journal.close()
    return time.perf_counter() - started


# -- 1. question latency ------------------------------------------------------------------


async def latency(root: Path, samples: int, *, watch: bool) -> list[float]:
    from tui.app import HarnessApp
    from tui.model import Update

    seen: dict[str, float] = {}

    class Timed(HarnessApp):
        def apply(self, update: Update) -> None:
            super().apply(update)
            for q in update.questions or []:
                seen.setdefault(q.id, time.time())

    asker = subprocess.Popen(
        [sys.executable, "-c", ASKER, str(root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert asker.stdin is not None and asker.stdout is not None
    asker.stdout.readline()
    delays = []
    jitter = random.Random(7)
    app = Timed(root, watch=watch)
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.ready.is_set():
            await pilot.pause(0.01)
        for n in range(samples):
            asker.stdin.write(f"{n}\n")
            asker.stdin.flush()
            qid, stored_at = asker.stdout.readline().split()
            deadline = time.monotonic() + 5
            while qid not in seen and time.monotonic() < deadline:
                await pilot.pause(0.002)
            delays.append(seen.get(qid, float("inf")) - float(stored_at))
            await pilot.pause(jitter.uniform(0.05, 1.0))  # not in step with the 1 s poll
    asker.stdin.close()
    asker.wait(10)
    return delays


# -- 2. start time ------------------------------------------------------------------------


def start_times(root: Path, runs: int) -> tuple[list[float], list[float], int]:
    """(launch-to-first-draw seconds, quit seconds, step rows shown) over `runs` processes."""
    starts, quits, shown = [], [], 0
    for _ in range(runs):
        launched = time.time()
        out = subprocess.run(
            [sys.executable, "-c", STARTER, str(root)],
            capture_output=True, text=True, cwd=ROOT, check=True,
        )  # fmt: skip
        ready, quit_s, rows = out.stdout.split()
        starts.append(float(ready) - launched)
        quits.append(float(quit_s))
        shown = int(rows)
    return starts, quits, shown


def read_all_vs_tail(root: Path) -> tuple[float, float, int]:
    """Seconds to read every step through the API, and to do the TUI's first read."""
    from harness.journal import Journal
    from tui.data import ProjectData

    started = time.perf_counter()
    with Journal.open_readonly(root / ".harness") as journal:
        count = len(journal.steps())
    every = time.perf_counter() - started
    started = time.perf_counter()
    data = ProjectData(root)
    data.refresh()
    tail = time.perf_counter() - started
    data.close()
    return every, tail, count


def line(name: str, values: list[float]) -> str:
    return (
        f"  {name:<38} median {statistics.median(values) * 1000:8.1f} ms   "
        f"p99 {pct(values, 0.99) * 1000:8.1f} ms   (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, 20,000 steps")
    parser.add_argument("--steps", type=int, help="steps in the big journal (100,000)")
    parser.add_argument("--runs", type=int, help="start-time runs per project (5)")
    args = parser.parse_args()
    samples = 8 if args.quick else 20
    steps = args.steps or (20_000 if args.quick else 100_000)
    runs = args.runs or (2 if args.quick else 5)

    with tempfile.TemporaryDirectory(prefix="harness-bench-tui-") as tmp:
        base = Path(tmp)
        print(f"harness bench tui: {samples} questions, {steps:,} steps, {runs} starts each")
        watched = asyncio.run(latency(make_project(base / "q1"), samples, watch=True))
        polled = asyncio.run(latency(make_project(base / "q2"), samples, watch=False))
        print("question stored by another process -> drawn in the running TUI")
        print(line("watchdog + poll (the TUI)", watched))
        print(line("poll only, 1 s (alternative)", polled))
        ratio = statistics.median(polled) / max(statistics.median(watched), 1e-9)
        print(f"  ratio poll/watchdog: {ratio:.1f}x")

        big, small = make_project(base / "big"), make_project(base / "small")
        build_journal(small, 100, per_session=50)
        built = build_journal(big, steps)
        print(f"journal of {steps:,} steps built through the journal API in {built:.1f} s")
        every, tail, count = read_all_vs_tail(big)
        print(f"  read every step via Journal.steps(): {every * 1000:.0f} ms ({count:,} rows)")
        print(f"  TUI first read (tail + totals):      {tail * 1000:.0f} ms "
              f"({every / max(tail, 1e-9):.1f}x less)")  # fmt: skip
        big_starts, big_quits, shown = start_times(big, runs)
        small_starts, _, _ = start_times(small, runs)
        print("start: process launch -> first data drawn (headless, 120x40)")
        print(line(f"{steps:,} steps ({shown} rows shown)", big_starts))
        print(line("100 steps (baseline)", small_starts))
        ratio = statistics.median(big_starts) / statistics.median(small_starts)
        print(f"  ratio {steps:,} steps / 100 steps: {ratio:.2f}x")
        print(line("quit (q -> app closed), big journal", big_quits))

    met = statistics.median(watched) < LATENCY_TARGET_S
    flat = ratio < START_RATIO_TARGET
    print(f"target: question latency median < {LATENCY_TARGET_S:.0f} s: {_word(met)}")
    median = statistics.median(big_starts)
    print(f"target: start with {steps:,} steps < {START_RATIO_TARGET}x a 100-step journal: "
          f"{_word(flat)} ({median:.2f} s median, {ratio:.2f}x)")  # fmt: skip
    return 0 if met and flat else 1


def _word(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
