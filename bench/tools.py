"""What the bounds on in-harness tools cost: the killable worker against running in the
harness's own process, the `regex` package (a timeout-capable engine) against `re`, and
the fd-relative walk against the path walk it replaced.

In one run, medians of each:
- the worker: starting its process (once per session, on the first list_files or grep),
  and one call's round trip (a pipe, JSON both ways);
- `grep` over a project of 2,000 files (20,000 lines): `search.grep` in this process,
  the same through the worker, and the way `main` did it before (pathlib glob, `re`);
- `list_files` the same three ways;
- the alternative weighed against a worker: `regex.search(..., timeout=...)` against
  `re.search` per line, and what `regex` costs to compile one pattern of 23 characters
  (its compile is outside its timeout; `re` compiles the same in microseconds);
- the walk of 20,000 files: `harness.walk.Walk` (fd-relative, `openat`) against the
  `os.scandir` path walk it replaced.

    python bench/tools.py            # 7 repeats of each
    python bench/tools.py --quick    # 3 repeats
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# This folder's session.py would shadow the `session` package: import from the repository.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from harness import walk  # noqa: E402
from harness.worker import Worker  # noqa: E402
from session.tools import search  # noqa: E402

LINES = 10
PATTERN = r"def \w+\(self, [a-z_]+\)"
NESTED = r"(((a{100}){100}){100})"  # 23 characters


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def make_project(root: Path, files: int) -> None:
    for index in range(files):
        folder = root / f"pkg{index % 20}" / f"sub{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(
            f"    def method_{i}(self, arg_{i}):\n        return {i} * arg_{i}\n" for i in range(5)
        )
        (folder / f"mod{index}.py").write_text(f"class C{index}:\n{body}")


def old_grep(root: Path, regex: str, glob: str) -> int:
    """main's grep before the worker: pathlib glob, resolve every path, read, re per line."""
    compiled = re.compile(regex)
    hits = 0
    for path in sorted(root.glob(glob)):
        if path.resolve().is_relative_to(root) and path.is_file() and not path.is_symlink():
            for line in path.read_text().splitlines():
                if compiled.search(line):
                    hits += 1
    return hits


def old_list(root: Path, glob: str) -> int:
    return sum(
        1
        for path in sorted(root.glob(glob))
        if path.resolve().is_relative_to(root) and path.is_file() and not path.is_symlink()
    )


def old_walk(root: Path) -> int:
    """The os.scandir path walk harness/walk.py had before."""
    count, pending = 0, [str(root)]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    repeats = 3 if parser.parse_args().quick else 7
    functions = (*search.FUNCTIONS, "harness.worker:_how")
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        root = Path(tmp) / "p"
        make_project(root, 2000)
        print(f"python bench/tools.py{' --quick' if repeats == 3 else ''}: medians of {repeats}")

        def start() -> None:
            worker = Worker(functions)
            worker.call("harness.worker:_how", {"code": 0}, timeout=60)
            worker.close()

        worker = Worker(functions)
        worker.call("harness.worker:_how", {"code": 0}, timeout=60)
        begin = median_ms(start, repeats)
        trip = median_ms(lambda: worker.call("harness.worker:_how", {"code": 0}, timeout=60), 50)
        print(f"worker: start + first call {begin:8.2f} ms   one call's round trip {trip:.3f} ms")

        args = {"root": str(root), "regex": PATTERN, "glob": "**/*.py", "deadline_s": 60}
        inproc = median_ms(lambda: search.grep(**args), repeats)
        viaworker = median_ms(
            lambda: worker.call("session.tools.search:grep", args, timeout=60), repeats
        )
        before = median_ms(lambda: old_grep(root, PATTERN, "**/*.py"), repeats)
        print(
            f"grep, 2,000 files: in process {inproc:8.2f} ms   in the worker {viaworker:8.2f} ms "
            f"({viaworker / inproc:.2f}x)   before (pathlib + re) {before:8.2f} ms"
        )
        listed = {"root": str(root), "pattern": "**/*.py", "deadline_s": 60}
        inproc = median_ms(lambda: search.list_files(**listed), repeats)
        viaworker = median_ms(
            lambda: worker.call("session.tools.search:list_files", listed, timeout=60), repeats
        )
        before = median_ms(lambda: old_list(root, "**/*.py"), repeats)
        print(
            f"list_files, 2,000 files: in process {inproc:8.2f} ms   in the worker "
            f"{viaworker:8.2f} ms ({viaworker / inproc:.2f}x)   before (pathlib) {before:8.2f} ms"
        )
        worker.close()

        lines = [line for p in root.rglob("*.py") for line in p.read_text().splitlines()]
        plain = re.compile(PATTERN)
        per_re = median_ms(lambda: [plain.search(line) for line in lines], repeats)
        try:
            import regex  # type: ignore[import-not-found]
        except ImportError:
            print("regex: not installed (litellm's tiktoken brings it)")
        else:
            timed = regex.compile(PATTERN)
            per_regex = median_ms(
                lambda: [timed.search(line, timeout=30) for line in lines], repeats
            )
            print(
                f"search of {len(lines):,} lines: re {per_re:8.2f} ms   regex with timeout "
                f"{per_regex:8.2f} ms ({per_regex / per_re:.2f}x)"
            )
            re_compile = median_ms(lambda: (re.purge(), re.compile(NESTED)), 3)
            regex_compile = median_ms(lambda: (regex.purge(), regex.compile(NESTED)), 3)
            print(
                f"compile {NESTED!r}: re {re_compile:8.3f} ms   regex {regex_compile:8.1f} ms "
                "(not under its timeout; one more level took 3 GB and 6 s)"
            )

        many = Path(tmp) / "many"
        for index in range(20_000):
            folder = many / f"d{index % 200}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{index}").touch()
        fd_walk = median_ms(lambda: sum(1 for _ in walk.Walk(many)), repeats)
        path_walk = median_ms(lambda: old_walk(many), repeats)
        print(
            f"walk of 20,000 files: Walk (fd-relative) {fd_walk:8.2f} ms   os.scandir by "
            f"path {path_walk:8.2f} ms ({fd_walk / path_walk:.2f}x)"
        )


if __name__ == "__main__":
    main()
