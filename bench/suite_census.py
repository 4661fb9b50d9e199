"""Which tests the `slow` rule says are misfiled: a per-test census of CPU and wall.

The rule (pyproject's `slow` marker, CONTRIBUTING.md "Running the tests"): a test is slow
when, run alone on a quiet machine, it takes more than 1 CPU-s (its process's and its
waited children's, user + system) or more than 2 s of wall; a test that kills or crashes a
process is slow whatever it costs, and says so: ``pytest.mark.slow(reason="kills ...")``.

    python bench/suite_census.py [--cpu 1] [--wall 2] [--keep DIR] [PYTEST ARGS...]
    python bench/suite_census.py --read DIR [DIR...]     # the census of earlier runs

runs pytest (``-p no:cacheprovider``, the given arguments: a file, ``-m slow``,
``-n 2``...) with this file as a plugin that writes one line per test (node id, wall, own
CPU, children's CPU, outcome) to ``DIR/<pid>.tsv``, collects the suite again for the
``slow`` markers as they are now, then prints the tests over the bound without the marker,
the marked ones under it without a reason, and the totals of ``-m "not slow"`` and ``-m
slow``. A failed or skipped test is left out (its path is shorter). With several census folders a
test's figures are its smallest of them (load only
adds). Walls taken beside other runs (``--load 2``: up to twice what they are alone) put a
test over the wall bound only past twice it; between, it is listed as undecided. Measure
alone (no ``-n``) and with little else running: CPU barely moves with load, wall does.

The children's CPU is what ``getrusage(RUSAGE_CHILDREN)`` counts: the children the test
waited for, theirs included; a grandchild orphaned to init (a sandbox's inner process) is
not counted, nor the Docker engine's work.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CPU_BOUND = 1.0  # CPU-s: about a fresh interpreter that imports harness and runs a step
WALL_BOUND = 2.0  # s: a worker held that long, waiting, is one of four held
ENV = "SUITE_CENSUS_DIR"
MARKERS = "SUITE_CENSUS_MARKERS"
FAILED: set[str] = set()
SKIPPED: set[str] = set()


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """One line per test (setup, call and teardown together) to ``$SUITE_CENSUS_DIR``."""
    folder = os.environ.get(ENV)
    start = time.monotonic(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    yield
    if not folder:
        return
    wall = time.monotonic() - start[0]
    own = _cpu(resource.RUSAGE_SELF) - start[1]
    children = _cpu(resource.RUSAGE_CHILDREN) - start[2]
    # a failure's or a skip's path is shorter: neither is what the test costs
    outcome = "failed" if item.nodeid in FAILED else "passed"
    outcome = "skipped" if item.nodeid in SKIPPED and outcome == "passed" else outcome
    line = f"{item.nodeid}\t{wall:.3f}\t{own:.3f}\t{children:.3f}\t{outcome}\n"
    with open(Path(folder) / f"{os.getpid()}.tsv", "a", encoding="utf-8") as out:
        out.write(line)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        FAILED.add(report.nodeid)
    elif report.skipped:
        SKIPPED.add(report.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's ``slow`` marker and its reason to ``$SUITE_CENSUS_MARKERS``."""
    path = os.environ.get(MARKERS)
    if not path:
        return
    lines = []
    for item in items:
        marker = item.get_closest_marker("slow")
        reason = "" if marker is None else " ".join(str(marker.kwargs.get("reason", "")).split())
        lines.append(f"{item.nodeid}\t{int(marker is not None)}\t{reason}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


@dataclass
class Test:
    nodeid: str
    wall: float
    cpu: float  # own + children's
    slow: bool
    reason: str

    def over(self, cpu_bound: float, wall_bound: float) -> bool:
        return self.cpu > cpu_bound or self.wall > wall_bound


def read(folders: list[Path], markers: dict[str, tuple[bool, str]]) -> dict[str, Test]:
    """Each collected test's smallest wall and CPU over the census folders, with its marker
    as the tests are today (a census of an older checkout reads the same)."""
    tests: dict[str, Test] = {}
    for folder in folders:
        for tsv in sorted(folder.glob("*.tsv")):
            for line in tsv.read_text(encoding="utf-8").splitlines():
                nodeid, wall, own, children, *outcome = line.split("\t")
                if nodeid not in markers or outcome in (["failed"], ["skipped"]):
                    continue  # renamed or removed since, failed or skipped: not its cost
                test = Test(nodeid, float(wall), float(own) + float(children), *markers[nodeid])
                seen = tests.get(nodeid)
                if seen is not None:
                    test.wall, test.cpu = min(seen.wall, test.wall), min(seen.cpu, test.cpu)
                tests[nodeid] = test
    return tests


def collect(env: dict[str, str]) -> dict[str, tuple[bool, str]]:
    """Each test's ``slow`` marker and reason, as pytest collects the suite now."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "markers.tsv"
        command = [sys.executable, "-m", "pytest", "-p", "suite_census", "-p", "no:cacheprovider"]
        command += ["-p", "no:xdist", "--collect-only", "-q"]
        subprocess.run(command, env=dict(env, **{MARKERS: str(path)}), capture_output=True)
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return {nodeid: (slow == "1", reason) for nodeid, slow, reason in rows}


def report(tests: dict[str, Test], cpu_bound: float, wall_bound: float, load: float) -> int:
    """Print the misfiled tests both ways, the undecided, and the totals; how many are
    misfiled. A wall figure taken under load (``load`` > 1: how much it may be inflated)
    is over the bound only past ``load`` times it; between, the test is undecided."""

    def row(test: Test) -> str:
        return f"{test.cpu:7.2f} {test.wall:7.2f}  {test.nodeid}"

    def over(test: Test) -> bool:
        return test.cpu > cpu_bound or test.wall > wall_bound * load

    def under(test: Test) -> bool:
        return test.cpu <= cpu_bound and test.wall <= wall_bound

    print(f"rule: slow = over {cpu_bound:g} CPU-s (own + children) or {wall_bound:g} s wall")
    ordered = sorted(tests.values(), key=lambda t: (-t.cpu, -t.wall))
    unmarked = [t for t in ordered if not t.slow and over(t)]
    marked = [t for t in ordered if t.slow and under(t)]
    undecided = [t for t in ordered if not over(t) and not under(t)]
    print(f"\nnot marked slow, over the bound ({len(unmarked)}):     CPU-s  wall-s")
    print("\n".join(row(t) for t in unmarked) or "  none")
    kept = [t for t in marked if t.reason]
    bare = [t for t in marked if not t.reason]
    print(f"\nmarked slow without a reason, under the bound ({len(bare)}):")
    print("\n".join(row(t) for t in bare) or "  none")
    print(f"\nmarked slow with a reason, under the bound: {len(kept)}")
    for reason in sorted({t.reason for t in kept}):
        print(f"  {sum(t.reason == reason for t in kept):4d}  {reason}")
    if undecided:
        print(
            f"\nundecided: wall over {wall_bound:g} s under load, measure alone ({len(undecided)}):"
        )
        print("\n".join(f"{row(t)}{'  [slow]' if t.slow else ''}" for t in undecided))
    print("\ntotals:          tests   CPU-s   wall-s (summed over tests)")
    for name, slow in (('-m "not slow"', False), ("-m slow", True)):
        chosen = [t for t in tests.values() if t.slow == slow]
        cpu, wall = sum(t.cpu for t in chosen), sum(t.wall for t in chosen)
        print(f"  {name:14s} {len(chosen):6d} {cpu:7.1f} {wall:8.1f}")
    return len(unmarked) + len(bare)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", type=float, default=CPU_BOUND, help="CPU-s bound")
    parser.add_argument("--wall", type=float, default=WALL_BOUND, help="wall-s bound")
    parser.add_argument("--keep", type=Path, help="write the census here (default: a temp dir)")
    parser.add_argument("--read", type=Path, nargs="+", help="report census folders, run none")
    parser.add_argument(
        "--load", type=float, default=1.0, help="walls were taken under load: up to x times"
    )
    args, pytest_args = parser.parse_known_args()
    # The plugin alone on PYTHONPATH: bench/ itself would shadow packages of the same name
    # (bench/escalation.py) in the tests' child processes, which inherit the variable.
    plugin = Path(tempfile.mkdtemp(prefix="suite-census-plugin-"))
    (plugin / "suite_census.py").symlink_to(Path(__file__).resolve())
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin), env.get("PYTHONPATH")]))
    folders = args.read
    if not folders:
        folder = args.keep or Path(tempfile.mkdtemp(prefix="suite-census-"))
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pytest", "-p", "suite_census", "-p", "no:cacheprovider"]
        print("$", " ".join([*command, "-q", *pytest_args]), f"  # census in {folder}")
        print("failed and skipped tests are left out of the census: their path is shorter")
        subprocess.run([*command, "-q", *pytest_args], env=dict(env, **{ENV: str(folder)}))
        folders = [folder]
    report(read(folders, collect(env)), args.cpu, args.wall, args.load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
