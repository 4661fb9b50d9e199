"""Harness overhead per agent step, and the wall time of the whole demo.

An agent step is one turn of the loop: a model call, then the tool calls it asked for
(each a journaled step, with the accounting, the escalation matrix, the stuck detector
and the compaction check around them). Measured in-process on a tiny project (local
runner, real journal, real git) with the scripted model at zero latency, two ways:

  litellm   the scripted model through real litellm (LitellmModel.complete timed and
            subtracted)
  null      a canned Model that plays the same script with no litellm at all

Columns: `step` is the whole turn; `- model` subtracts the time inside complete();
`- model - tools` also subtracts the time inside the tool functions (the `test -f` checks
the runner spawns...), leaving what the harness itself adds; `- writes` subtracts, from
that, the file tools' writes (write_file's and edit_file's bytes, an fsync'd atomic
write: the tool decides them, the pipeline writes them once the step is recorded, so they
fall outside the tool function's time). Target: at most 2 ms per step (harness
overhead). Then `harness demo --no-crash` wall time, median
of 3 runs (1 with --quick) in a fresh temp folder each.

`--cpu` times with this process's CPU time (time.process_time: every thread of it, not
its child processes, so a command the runner spawns is not counted) instead of the wall
clock: on a shared, loaded machine the wall time is mostly waiting for a core. Its target
is the fleet's: at most 1 ms of harness CPU per step outside the model client.
`--profile` runs the null-model session under cProfile (CPU time) and prints where it goes
(the functions with the most time of their own, and the most time under them).

    python bench/session.py [--turns N] [--demos N] [--quick] [--no-demo] [--cpu]
    python bench/session.py --profile [--turns N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCRIPT = "script.json"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def work_turns(turns: int) -> list[dict[str, Any]]:
    """A long session of cheap, distinct tool calls, ending with the honest verify/mark."""
    out: list[dict[str, Any]] = []
    for i in range(turns):
        kind = i % 4
        if kind == 0:
            call = _call("write_file", path=f"src/m{i}.py", content=f"X = {i}\n" * 20)
        elif kind == 1:
            call = _call("read_file", path=f"src/m{i - 1}.py")
        elif kind == 2:
            call = _call("edit_file", path=f"src/m{i - 2}.py", old=f"X = {i - 2}\n" * 20, new="Y")
        else:
            call = _call("note", text=f"step {i}")
        out.append({"tool_calls": [call]})
    out += [
        {"tool_calls": [_call("write_file", path="done_a.txt", content="done\n")]},
        {"tool_calls": [_call("verify_feature", feature="F001")]},
        {"tool_calls": [_call("mark_passing", feature="F001")]},
        {"text": "F001 done."},
    ]
    return out


def make_project(root: Path, turns: int) -> None:
    feature = {
        "category": "functional",
        "description": "the file done_a.txt exists",
        "steps": ["create it"],
        "check": "test -f done_a.txt",
    }
    init = [
        {"tool_calls": [_call("write_feature_list", features=[feature])]},
        {"tool_calls": [_call("write_init_sh", content="#!/usr/bin/env bash\necho ok\n")]},
        {"text": "Plan."},
    ]
    script = {
        "scenes": [
            {"match": "ROLE: initializer", "turns": init},
            {"match": r"Feature F001\b", "turns": work_turns(turns)},
        ]
    }
    root.mkdir(parents=True)
    (root / SCRIPT).write_text(json.dumps(script))
    (root / "SPEC.md").write_text("# Bench\nOne feature: done_a.txt exists.\n")
    (root / "harness.toml").write_text(
        f'[model]\nname = "scripted/{SCRIPT}"\n\n[budgets]\nsession_steps = 100000\n\n'
        '[runner]\nkind = "local"\n'
    )


class NullModel:
    """Plays the project's script from memory: no litellm, no usage pricing."""

    def __init__(self, config: Any, *, project_root: Path, **_: Any) -> None:
        from harness.model.script import load_script

        self.script = load_script(project_root / SCRIPT)

    def prepare(self) -> None:
        """Nothing to import (the loop prepares its model before the first step)."""

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        from harness.model import ModelResponse, ToolCall, Usage
        from harness.model.script import pick_scene, turn_index

        scene = pick_scene(self.script, messages)
        assert scene is not None
        index = turn_index(messages)
        if index >= len(scene.turns):
            return ModelResponse(content="(script ended)", model="null")
        turn = scene.turns[index]
        calls = [
            ToolCall(
                id=f"call_{index}_{i}",
                name=c.name,
                arguments=json.dumps(c.arguments, sort_keys=True),
            )
            for i, c in enumerate(turn.tool_calls)
        ]
        return ModelResponse(
            content=turn.text, tool_calls=calls, usage=Usage(total_tokens=1), model="null"
        )


class Timers:
    """Patches the loop, the model and the tool registry to time each agent step."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.turn_starts: list[float] = []
        self.end = 0.0
        self.model: list[float] = []
        self.tools: list[tuple[float, float]] = []  # (start, duration)
        self.writes: list[tuple[float, float]] = []  # the file tools' deferred writes
        self._undo: list[Callable[[], None]] = []

    def patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self, model_class: Any) -> None:
        from harness.tools import ToolRegistry
        from session.loop import AgentLoop
        from session.pipeline import ToolPipeline

        def on_complete(original: Any) -> Any:
            def timed(loop: Any, messages: Any, sent: Any) -> Any:
                self.turn_starts.append(self.clock())
                return original(loop, messages, sent)

            return timed

        def on_run(original: Any) -> Any:
            def timed(loop: Any, messages: Any) -> Any:
                result = original(loop, messages)
                self.end = self.clock()
                return result

            return timed

        def around(original: Any, into: list[Any]) -> Any:
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = self.clock()
                try:
                    return original(*args, **kwargs)
                finally:
                    into.append(self.clock() - started)

            return timed

        def spans(into: list[tuple[float, float]]) -> Callable[[Any], Any]:
            def make(original: Any) -> Any:
                def timed(*args: Any, **kwargs: Any) -> Any:
                    started = self.clock()
                    try:
                        return original(*args, **kwargs)
                    finally:
                        into.append((started, self.clock() - started))

                return timed

            return make

        self.patch(AgentLoop, "_complete", on_complete)
        self.patch(AgentLoop, "run", on_run)
        self.patch(model_class, "complete", lambda original: around(original, self.model))
        self.patch(ToolRegistry, "invoke", spans(self.tools))
        self.patch(ToolPipeline, "_write", spans(self.writes))

    def uninstall(self) -> None:
        for undo in reversed(self._undo):
            undo()

    def steps(self) -> list[tuple[float, float, float, float]]:
        """(whole step, model time, tool time, file writes' time) per agent step."""
        bounds = [*self.turn_starts, self.end]
        out = []
        for i, start in enumerate(self.turn_starts):
            stop = bounds[i + 1]
            tools = sum(d for s, d in self.tools if start <= s < stop)
            writes = sum(d for s, d in self.writes if start <= s < stop)
            out.append((stop - start, self.model[i], tools, writes))
        return out


def measure(
    way: str, turns: int, clock: Callable[[], float] = time.perf_counter, profiler: Any = None
) -> list[tuple[float, float, float, float]]:
    """Init a fresh project, then time the agent steps of its one working session."""
    import harness.model
    from harness.cli import main
    from harness.config import load_config, run_scope
    from session.run import run_project

    folder = Path(tempfile.mkdtemp(prefix="bench-session-"))
    try:
        root = folder / "p"
        make_project(root, turns)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["-C", str(root), "init", "--spec", str(root / "SPEC.md")]) == 0
        timers = Timers(clock)
        config = load_config(root)
        # the null way's model comes from the run's scope, as a test's entry gives one
        scope = run_scope(config, models=NullModel if way == "null" else None)
        timers.install(NullModel if way == "null" else harness.model.LitellmModel)
        if profiler is not None:
            profiler.enable()
        try:
            report = run_project(root, config, unattended=True, scope=scope)
        finally:
            if profiler is not None:
                profiler.disable()
            timers.uninstall()
        assert report.outcome == "complete", report
        return timers.steps()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def demo_wall(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        folder = Path(tempfile.mkdtemp(prefix="bench-demo-"))
        try:
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "harness", "demo", str(folder / "d"), "--no-crash"],
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return times


def profile(turns: int) -> int:
    """The null model's session under cProfile: where the harness's time per step goes."""
    import cProfile
    import pstats

    measure("null", 8)  # warm imports and caches
    profiler = cProfile.Profile(time.process_time)  # CPU, as --cpu: not the waits on disk
    steps = measure("null", turns, profiler=profiler)
    print(
        f"cProfile (CPU time) of a run of {len(steps)} agent steps with the null model "
        "(not its init)"
    )
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="tool turns in the session")
    parser.add_argument("--demos", type=int, default=3, help="demo runs (median)")
    parser.add_argument("--quick", action="store_true", help="60 turns, 1 demo")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo wall time")
    parser.add_argument("--cpu", action="store_true", help="this process's CPU time, not wall")
    parser.add_argument("--profile", action="store_true", help="cProfile the null model's steps")
    args = parser.parse_args()
    if args.profile:
        return profile(args.turns)
    clock = time.process_time if args.cpu else time.perf_counter
    turns, demos = (60, 1) if args.quick else (args.turns, args.demos)

    ms = 1000.0
    rows = []
    for way in ("litellm", "null"):
        measure(way, 8, clock)  # warm imports and caches
        steps = measure(way, turns, clock)
        whole = [s[0] * ms for s in steps]
        no_model = [(s[0] - s[1]) * ms for s in steps]
        overhead = [(s[0] - s[1] - s[2]) * ms for s in steps]
        model = [s[1] * ms for s in steps]
        unwritten = [(s[0] - s[1] - s[2] - s[3]) * ms for s in steps]
        rows.append((way, len(steps), whole, model, no_model, overhead, unwritten))

    what = "CPU ms of this process" if args.cpu else "ms"
    print(f"agent steps (one model turn + its tool calls), {turns} tool turns + 4, {what} per step")
    header = f"{'model':<8} {'steps':>5}  {'step p50':>8} {'model p50':>9}  "
    header += f"{'-model p50':>10} {'p90':>6} {'p99':>6}  {'-model-tools p50':>16} {'p90':>6}"
    header += f" {'p99':>6}  {'-writes p50':>11} {'p90':>6}"
    print(header)
    for way, count, whole, model, no_model, overhead, unwritten in rows:
        print(
            f"{way:<8} {count:>5}  {statistics.median(whole):>8.3f} "
            f"{statistics.median(model):>9.3f}  {statistics.median(no_model):>10.3f} "
            f"{pct(no_model, 0.9):>6.3f} {pct(no_model, 0.99):>6.3f}  "
            f"{statistics.median(overhead):>16.3f} {pct(overhead, 0.9):>6.3f} "
            f"{pct(overhead, 0.99):>6.3f}  {statistics.median(unwritten):>11.3f} "
            f"{pct(unwritten, 0.9):>6.3f}"
        )
    target = 1.0 if args.cpu else 2.0
    for way, _, _, _, _, overhead, unwritten in rows:
        median = statistics.median(overhead)
        verdict = "meets" if median <= target else "misses"
        print(
            f"{way}: harness overhead median {median:.3f} ms/step {verdict} the "
            f"{target:g} ms target ({statistics.median(unwritten):.3f} without the file "
            "tools' writes)"
        )
    print(
        "(litellm's own work outside complete(), e.g. its callback threads, lands in the "
        "litellm row's '-model' columns; the null row is the harness alone)"
    )
    lit, null = statistics.median(rows[0][4]), statistics.median(rows[1][4])
    print(f"ratio -model litellm/null: {lit / null:.2f}")

    if not args.no_demo:
        times = demo_wall(demos)
        label = f"median of {len(times)}" if len(times) > 1 else "1 run"
        print(
            f"\nharness demo --no-crash wall time: {statistics.median(times):.1f} s ({label}; "
            f"runs {', '.join(f'{t:.1f}' for t in times)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
