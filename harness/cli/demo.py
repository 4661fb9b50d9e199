"""`harness demo`: a sample project taken from spec to all-passing by the real pipeline.

Only the model is scripted. The initializer and the sessions run through litellm, the
journal, the tools, the runner and git; a 429 storm and a malformed tool call hit the
model gateway, and the first `harness run` is killed on purpose halfway and resumed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ArtifactError
from harness.project_lock import ProjectLock

if TYPE_CHECKING:
    from harness.journal import StepRow
    from harness.journal.protocol import JournalReader

SCRIPT_FILE = "scripted_model.json"
# Written before anything else, so a demo killed while it sets up is finished by `harness run`.
MARKER = Path(".harness") / "demo.json"
CRASH_AT_STEP = 14  # the first run dies in its 14th tool call, mid-session


@dataclass
class DemoOptions:
    ask: bool = False
    unattended: bool = False
    crash: bool = True
    latency_s: float = 0.0


def create_project(target: Path, options: DemoOptions) -> None:
    """Copy the sample project and write harness.toml and the model's script (again, if
    a killed demo left them half written)."""
    from dataclasses import asdict

    from harness.cli.demo_script import build_script

    (target / MARKER).parent.mkdir(parents=True, exist_ok=True)
    (target / MARKER).write_text(json.dumps(asdict(options)) + "\n")
    source = resources.files("templates").joinpath("demo", "project")
    with resources.as_file(source) as folder:
        shutil.copytree(folder, target, dirs_exist_ok=True)
    # Python's caches are no source: kept out of git, as a Python project does.
    (target / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    (target / SCRIPT_FILE).write_text(
        json.dumps(build_script(ask=options.ask, latency_s=options.latency_s), indent=1) + "\n"
    )
    (target / "harness.toml").write_text(
        "# The demo's configuration: a scripted model, so it runs offline.\n"
        "[model]\n"
        f'name = "scripted/{SCRIPT_FILE}"\n\n'
        "[budgets]\nsession_steps = 40\nrun_sessions = 12\n\n"
        '[runner]\nkind = "auto"\n\n'
        '# Every feature is reviewed by the independent evaluator (the default, "auto",\n'
        "# reviews only features whose tests the session itself wrote).\n"
        '[evaluator]\nmode = "on"\n\n'
        "# init.sh only checks that pytest is there and the tests collect: a clean checkout\n"
        '# has nothing to set up before a check (README, "Verified done").\n'
        "[verify]\nsetup = false\n"
    )


def finish_setup(target: Path) -> bool:
    """A demo killed before its init began: write its files again; True if it did."""
    if not (target / MARKER).is_file() or (target / "feature_list.json").exists():
        return False
    try:
        options = DemoOptions(**json.loads((target / MARKER).read_text()))
    except (ValueError, TypeError):
        options = DemoOptions()
    create_project(target, options)
    return True


def _harness(target: Path, *args: str, crash_at_step: int | None = None) -> int:
    """`harness -C target args...` in a child process (a fork of this one: litellm is
    loaded once, :mod:`harness.cli.demo_fork`); with ``crash_at_step``, through the crash
    entry (`harness.cli.chaos`), which kills it in that live tool call. The child works
    from a neutral folder with :func:`harness.hostpath.child_env`, never from the user's
    folder (it may be the demo project, which the agent writes)."""
    from harness.cli.demo_fork import run_child

    module, entry = "harness", []
    if crash_at_step is not None:
        module, entry = "harness.cli.chaos", ["--at-step", str(crash_at_step), "--"]
    return run_child(module, [*entry, "-C", str(target.absolute()), *args])


def run_demo(target: Path, options: DemoOptions) -> int:
    """Create (or continue) the demo project in `target` and run it to the end."""
    started = time.monotonic()
    target = target.resolve()
    _refuse_foreign(target)  # before the lock: it makes .harness
    # Its files and its init under the project's run lock: a `harness run` started there
    # meanwhile would write them again and finish the init itself (exit 6 now).
    held = ProjectLock.hold(target)
    try:
        fresh = not (target / "feature_list.json").exists()
        if fresh:
            print(f"harness demo: creating the sample project in {target}")
            create_project(target, options)
            code = _harness(target, "init", "--spec", str(target / "SPEC.md"))
            if code != 0:
                return code
        else:
            print(f"harness demo: {target} already holds the demo; continuing it")
    finally:
        held.release()  # its run takes it
    run_args = ["run", "--report", str(target / ".harness" / "demo-report.json")]
    if options.unattended:
        run_args.append("--unattended")
    crash = CRASH_AT_STEP if options.crash and fresh else None
    code = _harness(target, *run_args, crash_at_step=crash)
    if code == -9 or code == 137:
        print(
            f"harness demo: the run was killed on purpose (SIGKILL) in tool call {CRASH_AT_STEP}; "
            "resuming with `harness run`: recorded steps replay, nothing is paid twice"
        )
        code = _harness(target, *run_args)
    _summary(target, time.monotonic() - started, code)
    return code


def _refuse_foreign(target: Path) -> None:
    """A folder with files that is no demo project (and no harness project) is not used."""
    if (target / "feature_list.json").exists() or not target.exists():
        return
    known = (target / SCRIPT_FILE).exists() or (target / MARKER).exists()
    if any(target.iterdir()) and not known:
        raise ArtifactError(
            target,
            "(folder)",
            "the folder is not empty and is not a demo project",
            "Give an empty or new folder.",
        )


def _summary(target: Path, wall_s: float, code: int) -> None:
    from harness.config import journal_location
    from harness.journal.protocol import open_reader

    report_file = target / ".harness" / "demo-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    with open_reader(journal_location(target)) as journal:
        steps = journal.steps()
        model_calls = [s for s in steps if s.kind == "llm"]
        retried = sum(1 for s in model_calls if _attempts(journal, s) > 1)
        spoiled = sum(
            1 for s in steps if s.kind == "tool" and s.status == "ended" and _bad_args(journal, s)
        )
        run_id = report.get("run_id")
        run_tokens, run_cost = journal.usage(run_id) if run_id else (0, 0.0)
        all_tokens, all_cost = journal.usage()
    rerun = sum(1 for s in steps if s.attempts > 1)
    print("\nharness demo: summary")
    print(f"  project:   {target}")
    print(f"  outcome:   {report.get('outcome', '?')} (exit {code})")
    passing, total = report.get("features_passing", "?"), report.get("features_total", "?")
    print(f"  features:  {passing}/{total} passing")
    print(f"  runner:    {report.get('runner', '?')}")
    print(f"  steps:     {len(steps)} journaled; {rerun} re-run after the crash")
    print(
        f"  model:     {len(model_calls)} calls; {retried} retried after 429/5xx; "
        f"{spoiled} malformed tool call(s) answered with an error the model fixed"
    )
    print(f"  tokens:    this run {run_tokens} (${run_cost:.4f}, as its report says); ", end="")
    print(f"the project, init included: {all_tokens} (${all_cost:.4f})")
    print(f"  wall time: {wall_s:.1f} s")
    print(f"  next:      harness -C {target} status | log | run")


def _output(journal: JournalReader, step: StepRow) -> dict[str, Any]:
    detail = journal.step_detail(step.run_id, step.session, step.seq)
    output = detail.output if detail is not None else None
    return output if isinstance(output, dict) else {}


def _attempts(journal: JournalReader, step: StepRow) -> int:
    return int(_output(journal, step).get("attempts", 1))


def _bad_args(journal: JournalReader, step: StepRow) -> bool:
    return "not valid JSON" in str(_output(journal, step).get("output", ""))
