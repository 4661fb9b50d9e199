"""Resume on a long journal: how long after `harness run` starts its first live step comes.

A session of many cheap turns (write, read, edit, note: bench/session.py's work turns) is
run live through the real CLI with the scripted model, and SIGKILLed once its journal holds
N steps. Then `harness run --json` is started again: it replays those N steps (no model
call, no tool run) and the first `step.started` event it prints is the first live step;
the process is killed when its first live model call has answered (the `step.ended` of
kind `llm`; the scripted model answers at once: litellm's import is in it, wherever it
falls).
Measured from spawning the process (what a user waits for), median of `--rounds`. Also
its peak memory (VmHWM) then.

Columns: `steps` replayed, `first live step` (s, wall) and its `CPU` (s of the harness
process itself at that moment: the machine's load shows in wall time, hardly in CPU), the
same at the `first model answer` (litellm's import, paid once by the first model call
that is not replayed, comes before it), `over fresh` (CPU at the first answer beyond a
fresh run's: what resuming itself costs; with --step-only, at the first live step),
`per replayed step` (CPU ms, over the smallest journal, with --step-only over the fresh
run: start-up removed), `peak MB`. The first row, `fresh`, is the baseline: `harness
run` of the same project just after its init (no session journaled). And the floor every
`harness run` pays before its first model call: the interpreter and litellm's import (CPU
s, in a process of its own). Target (issue 23): first live step at most 1 s after start
at 10,000 steps. With ``--base REV`` the same resumes (the same journals, rounds
interleaved) run the code of REV too, checked out in a git worktree and imported by
path, and the ratio base / this is printed: before and after in one run.
Then the read commands on the largest journal (the run interrupted there): `harness
status`, `harness log` and `harness journal verify`, wall and CPU (the machine's load
shows in wall time, hardly in CPU), median of the rounds, each code in turn. Targets:
status and log at most 0.5 s at 10,000 steps.

    python bench/resume.py [--steps 1000,10000] [--rounds 3] [--base REV] [--profile N]

`--profile N` runs one resume of an N-step journal in this process under cProfile and
prints the top functions instead. `--step-only` stops each resume at its first live step
(the target's figure; no model answer, so no litellm import: cheap enough for many
rounds). `--projects DIR` builds the journals there and keeps them; a later run with the
same DIR measures on the same journals without building them again.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_session() -> object:
    """bench/session.py's project builder (the same long session of cheap turns)."""
    spec = importlib.util.spec_from_file_location("bench_session", ROOT / "bench" / "session.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _harness(root: Path, *args: str, code: Path = ROOT, **popen: object) -> subprocess.Popen[str]:
    # With the bytecode cache a user's install has (PYTHONDONTWRITEBYTECODE, set on some
    # machines, makes every start compile harness's sources again: ~0.5 s more).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if code != ROOT:  # another commit's harness: imported from its checkout first
        env["PYTHONPATH"] = str(code)
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "-C", str(root), *args],
        cwd=code,
        env=env,
        text=True,
        start_new_session=True,
        **popen,  # type: ignore[call-overload]
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def build(folder: Path, steps: int, size: int | None = None) -> Path:
    """A project whose open session's journal holds ``steps`` steps, its process killed
    (0: just initialised, no run started; ``size``: the session's planned length)."""
    root = folder / f"p{steps}"
    _bench_session().make_project(root, size or steps)  # type: ignore[attr-defined]
    done = _harness(root, "init", "--spec", str(root / "SPEC.md"), stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)  # fmt: skip
    assert done.wait() == 0
    if steps == 0:
        return root
    proc = _harness(root, "run", "--json", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "step.started" and event.get("session"):
            seen = int(event["seq"])
            if seen >= steps:
                break
    _kill(proc)
    assert seen >= steps, f"the session ended at step {seen}"
    return root


def first_live_step(root: Path, code: Path = ROOT, answer: bool = True) -> Sample:
    """A resume by the harness of checkout ``code``: (seconds from spawn to its first live
    step, CPU seconds of the process then, the same two when its first live model call
    has answered, peak resident MB then). Without ``answer``, stopped at its first live
    step (the answer's two are NaN)."""
    work = Path(tempfile.mkdtemp(prefix="harness-resume-"))
    try:
        copy = work / "p"
        shutil.copytree(root, copy, symlinks=True)
        started = time.perf_counter()
        proc = _harness(copy, "run", "--json", code=code, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL)  # fmt: skip
        assert proc.stdout is not None
        first: tuple[float, float] | None = None
        for line in proc.stdout:
            event = json.loads(line)
            if event["type"] not in ("step.started", "step.ended"):
                continue
            now = (time.perf_counter() - started, _cpu_s(proc.pid))
            first = first or now
            if not answer:
                peak = _peak_mb(proc.pid)
                _kill(proc)
                return (*first, math.nan, math.nan, peak)
            if event["type"] == "step.ended" and event.get("kind") == "llm":
                peak = _peak_mb(proc.pid)
                _kill(proc)
                return (*first, *now, peak)
        raise AssertionError("the resumed run got no live model answer")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (its children not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor_cpu(code: Path = ROOT) -> float:
    """CPU seconds of a process that starts the interpreter and imports litellm the way
    harness does (what every `harness run` pays before its first model call)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    script = "from harness.model.names import import_litellm; import_litellm()"
    subprocess.run([sys.executable, "-c", script], cwd=code, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def profile(root: Path) -> None:
    """One resume in this process under cProfile, stopped at the first live step (the
    first `step.started` of the --json stream)."""
    import cProfile
    import pstats

    from harness import events as _events  # noqa: F401 (imported before timing)
    from harness.cli import main

    work = Path(tempfile.mkdtemp(prefix="harness-resume-"))
    copy = work / "p"
    shutil.copytree(root, copy, symlinks=True)

    class FirstLive(Exception):
        pass

    import harness.cli.live as live

    def stop(self: object, event: object) -> None:
        if getattr(event, "type", "") == "step.started":
            raise FirstLive

    live.JsonStream.__call__ = stop  # type: ignore[method-assign,assignment]
    profiler = cProfile.Profile()
    profiler.enable()
    with contextlib.suppress(FirstLive, SystemExit), contextlib.redirect_stdout(io.StringIO()):
        main(["-C", str(copy), "run", "--json"])
    profiler.disable()
    pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(30)
    shutil.rmtree(work, ignore_errors=True)


READS = (("status",), ("log",), ("journal", "verify"))


def read_times(root: Path, code: Path = ROOT) -> dict[str, tuple[float, float]]:
    """Command -> (wall s, CPU s of the process) of each read command on ``root``."""
    found = {}
    for command in READS:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = _harness(root, *command, code=code, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)  # fmt: skip
        code_ = proc.wait()
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert code_ in (0, 4), f"`harness {' '.join(command)}` exited {code_}"
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        found[" ".join(command)] = (wall, cpu)
    return found


def _reads(root: Path, codes: list[Path], rounds: int) -> dict[Path, dict[str, list[float]]]:
    """Median wall and CPU of each read command, per code, rounds interleaved."""
    runs: dict[Path, list[dict[str, tuple[float, float]]]] = {code: [] for code in codes}
    for _ in range(rounds):
        for code in codes:
            runs[code].append(read_times(root, code))
    return {
        code: {
            name: [statistics.median(r[name][i] for r in runs[code]) for i in (0, 1)]
            for name in runs[code][0]
        }
        for code in codes
    }


def _project(folder: Path, steps: int, largest: int, *, reuse: bool) -> Path:
    """The project of ``steps`` recorded steps in ``folder`` (0: fresh, planned as long as
    the largest); with ``reuse``, one built there before is taken as it is."""
    done = folder / f"p{steps}.built"
    if reuse and done.exists():
        return folder / f"p{steps}"
    folder.mkdir(parents=True, exist_ok=True)
    root = build(folder, steps, size=largest if steps == 0 else None)
    done.touch()
    return root


def _checkout(rev: str, folder: Path) -> Path:
    """REV's tree in a detached git worktree under ``folder``."""
    target = folder / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(target),
                    rev], check=True)  # fmt: skip
    return target


Sample = tuple[float, float, float, float, float]
"""wall s, CPU s at the first live step; wall s, CPU s at the first live model answer; MB"""
Row = tuple[int, float, float, float, float, float]  # steps, then a Sample's medians


def _s(value: float, width: int) -> str:
    """Seconds right-aligned in ``width``, or "-" when not measured (NaN)."""
    return f"{'-':>{width}}  " if math.isnan(value) else f"{value:>{width}.2f} s"


def _table(title: str, rounds: int, rows: list[Row], floor: float) -> None:
    at = 2 if math.isnan(rows[0][4]) else 4  # CPU at the first live step with --step-only
    fresh_cpu = rows[0][at]
    # per replayed step: over the smallest journal, or with --step-only over the fresh run
    # (the smallest journal's first live step is a model call: litellm's import is in it)
    base_steps, base_cpu = rows[1 if at == 4 else 0][0], rows[1 if at == 4 else 0][at]
    print(f"{title} (median of {rounds}; python {sys.version.split()[0]}; load "
          f"{os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"{'steps':>7} {'first live step':>16} {'CPU':>8} {'first model answer':>19} "
          f"{'CPU':>8} {'over fresh':>11} {'per replayed step':>18} {'peak MB':>8}")  # fmt: skip
    for row in rows:
        steps, seconds, cpu, llm_s, llm_cpu, peak = row
        per = (row[at] - base_cpu) / (steps - base_steps) * 1000 if steps > base_steps else 0.0
        name = f"{steps:>7}" if steps else f"{'fresh':>7}"
        print(f"{name} {_s(seconds, 14)} {_s(cpu, 6)} {_s(llm_s, 17)} {_s(llm_cpu, 6)} "
              f"{_s(row[at] - fresh_cpu, 9)} {per:>15.3f} ms {peak:>8.0f}")  # fmt: skip
    if at == 2:
        print("(the 10-step journal's first live step is a model call: litellm's import is in it)")
    if not math.isnan(floor):
        print(f"floor (interpreter + litellm's import, CPU): {floor:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", default="", help="also resume with this commit's code")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument(
        "--step-only",
        action="store_true",
        help="stop each resume at its first live step (no model answer, no floor)",
    )
    parser.add_argument(
        "--projects",
        default="",
        help="build the journals in this folder and keep them; reuse those there",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="harness-bench-resume-"))
    base = _checkout(args.base, folder) if args.base else None
    try:
        if args.profile:
            profile(build(folder, args.profile))
            return
        sizes = sorted({0, 10, *(int(s) for s in args.steps.split(","))})
        codes = [ROOT, *([base] if base else [])]
        found: dict[Path, list[Row]] = {code: [] for code in codes}
        floors: dict[Path, list[float]] = {code: [] for code in codes}
        root = folder
        kept = Path(args.projects) if args.projects else None
        for steps in sizes:
            root = _project(kept or folder, steps, sizes[-1], reuse=kept is not None)
            runs: dict[Path, list[Sample]] = {code: [] for code in codes}
            for _ in range(args.rounds):  # interleaved: load hits both alike
                for code in codes:
                    runs[code].append(first_live_step(root, code, answer=not args.step_only))
                    if steps == 0:
                        floors[code].append(math.nan if args.step_only else floor_cpu(code))
            for code in codes:
                medians = [statistics.median(r[i] for r in runs[code]) for i in range(4)]
                peak = max(r[4] for r in runs[code])
                found[code].append((steps, *medians, peak))  # type: ignore[arg-type]
        _table("resume, this code", args.rounds, found[ROOT], statistics.median(floors[ROOT]))
        if base is not None:
            floor = statistics.median(floors[base])
            _table(f"resume, base {args.base}", args.rounds, found[base], floor)
            print("base / this (CPU at the first live step, at the first model answer):")
            for mine, theirs in zip(found[ROOT], found[base], strict=True):
                answer = "-" if math.isnan(mine[4]) else f"{theirs[4] / mine[4]:.2f}x"
                print(f"{mine[0]:>7} {theirs[2] / mine[2]:>8.2f}x {answer:>9}")
        reads = _reads(root, codes, args.rounds)
        print(f"read commands at {sizes[-1]:,} steps (median of {args.rounds}): wall s / CPU s")
        for name in reads[ROOT]:
            now = reads[ROOT][name]
            line = f"  harness {name:<15} this {now[0]:6.2f} / {now[1]:5.2f}"
            if base is not None:
                then = reads[base][name]
                line += f"   base {then[0]:6.2f} / {then[1]:5.2f}   base/this CPU "
                line += f"{then[1] / max(now[1], 1e-6):.2f}x"
            print(line)
        extra = f" --base {args.base}" if args.base else ""
        extra += " --step-only" if args.step_only else ""
        print(f"command: python bench/resume.py --steps {args.steps} --rounds {args.rounds}{extra}")
    finally:
        if base is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
