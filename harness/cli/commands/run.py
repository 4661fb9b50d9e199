"""`harness run`: sessions until done, a budget is spent, or a human is needed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.cli.flags import add_config_flag, overrides
from harness.errors import HarnessError


def register(subparsers: Any) -> None:
    from harness.cli import JOURNALED

    parser = subparsers.add_parser(
        "run",
        help="run sessions until every feature passes (resumes an interrupted run)",
        description="Run sessions (wake, orient, work, writeback) until every feature passes, "
        "a budget is spent, or a human is needed. An interrupted run resumes at the step it "
        "died in; an interrupted init is finished first. Exit codes: 0 complete, 3 budget "
        "exhausted, 4 waiting (for a human, the provider, Docker or disk), 5 stuck, 1 failed, "
        "2 invalid input, 6 another process drives the run, 130 interrupted (Ctrl-C; 143 "
        "SIGTERM, 129 SIGHUP).",
    )
    parser.add_argument(
        "--unattended",
        action="store_true",
        help="never wait for a human: a question parks the run (always so under CI or "
        "without a terminal)",
    )
    parser.add_argument("--report", metavar="FILE", help="write a JSON run report to FILE")
    parser.add_argument("--model", metavar="NAME", help="override [model] name")
    add_config_flag(parser)
    parser.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="resume this run (the one `harness runs` lists as unfinished); refused when it "
        "finished or is not the project's open run",
    )
    parser.add_argument("--max-sessions", type=int, metavar="N", help="override run_sessions")
    parser.add_argument(
        "--json",
        action="store_true",
        help="write a JSONL event stream on stdout while the run goes (run, session, step "
        "started/ended, wait, question, session ended, run ended with the report)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr (errors only)"
    )
    parser.set_defaults(func=run, again=JOURNALED)


def run(args: argparse.Namespace) -> int:
    from escalation.ask import is_unattended
    from harness.cli.live import JsonStream, ProgressLines
    from harness.config import load_config, run_scope
    from harness.events import Events
    from harness.project_lock import ProjectLock

    root = Path(args.project).resolve()
    held = None
    try:
        # One `harness run` at a time in a project, from before it reads anything: two
        # started at once each found no run to resume and each started one.
        held = ProjectLock.hold(root)
        _refuse_beside_live_init(root)  # before anything here writes (the demo's files)
        demo_setup = _finish_demo_setup(root)
        _restore_init_config(root)
        config = load_config(root, overrides=overrides(args))
        watchers: list[Any] = [] if args.quiet else [ProgressLines(sys.stderr)]
        if args.json:
            watchers.append(JsonStream(sys.stdout))
        if getattr(args, "resume", None):
            _check_resume(root, args.resume)
        # The run's own environment, secrets, observers and hooks (crash switches: only
        # `python -m harness.cli.chaos`, for the demo and the tests, passes any).
        scope = run_scope(config, events=Events(*watchers), hooks=args.hooks, models=args.models)
        args.stopping.say = scope.events.notice  # a SIGTERM is said as the run's notice
        finish_interrupted_init(root, config, demo_setup, scope)
        report = _run(root, config, unattended=is_unattended(args.unattended), scope=scope)
    except (HarnessError, KeyboardInterrupt) as error:
        if args.report:  # the report says why there was no run, with the exit code
            _refusal_report(root, error).write(Path(args.report))
        raise
    finally:
        if held is not None:
            held.release()
    if args.report:
        report.write(Path(args.report))
    from harness.terminal import for_terminal

    print(
        f"harness run: {headline(report.outcome, for_terminal(report.detail, one_line=True))} "
        f"({report.features_passing}/{report.features_total} features passing, "
        f"{len(report.sessions)} session(s) this time; this run: {report.tokens} tokens, "
        f"${report.cost_usd:.4f})",
        file=sys.stderr if report.exit_code or args.json else sys.stdout,
    )
    return int(report.exit_code)


SAID = {"waiting_for_human": "waiting for a human", "budget_exhausted": "budget exhausted"}


def headline(outcome: str, detail: str) -> str:
    """``outcome: detail``, the outcome said once: a detail that starts with the outcome's
    words ("waiting for a human: question q1 ...", "interrupted (Ctrl-C)") is said alone."""
    said = SAID.get(outcome, outcome.replace("_", " "))
    rest = detail.strip()
    if not rest:
        return said
    if any(rest.lower().startswith(p) for p in (said, said.replace(" a ", " "))):
        return rest
    return f"{said}: {rest}"


def _refusal_report(root: Path, error: BaseException) -> Any:
    """The report of a run that stopped before it started (a bad feature list or config,
    exit 2) or was interrupted (Ctrl-C, SIGTERM, SIGHUP) before it could write its own."""
    from session.run import RunReport

    total = passing = 0
    try:
        from artifacts.feature_list import load_feature_list

        features = load_feature_list(root)
        total, passing = len(features.features), features.passing
    except HarnessError:
        pass  # the very file the error may be about
    if isinstance(error, KeyboardInterrupt):  # Ctrl-C, SIGTERM, SIGHUP
        from harness import signals

        return RunReport(
            "interrupted",
            signals.exit_code(error),
            "",
            f"interrupted ({signals.describe(error)})",
            total,
            passing,
            resumable=True,
        )
    assert isinstance(error, HarnessError)
    return RunReport("failed", int(error.exit_code), "", str(error), total, passing)


def _check_resume(root: Path, run_id: str) -> None:
    """`--resume RUN_ID`: that run must be the project's open run (the one `harness run`
    resumes); a finished, unknown or other run is refused (exit 2) before anything runs."""
    from harness.config import journal_location
    from harness.errors import ArtifactError
    from harness.journal.protocol import journal_exists, open_reader

    state = root / ".harness"
    where = journal_location(root)
    if not journal_exists(where):
        raise ArtifactError(state, "--resume", f"no run {run_id}: this project has no journal")
    with open_reader(where) as journal:
        runs = {r.id: r for r in journal.runs()}
        open_run = journal.unfinished_run("run")
    found = runs.get(run_id)
    if found is None:
        raise ArtifactError(
            state, "--resume", f"no run {run_id} in this project's journal",
            "`harness runs` lists them; `harness run` alone resumes the open one.",
        )  # fmt: skip
    if found.status == "finished":
        raise ArtifactError(
            state, "--resume", f"run {run_id} finished ({found.outcome}): nothing to resume",
            "`harness run` starts a new run when a feature still fails.",
        )  # fmt: skip
    if open_run != run_id:
        raise ArtifactError(
            state, "--resume", f"run {run_id} is not the project's open run ({open_run})",
            f"`harness run --resume {open_run}`, or `harness run`.",
        )  # fmt: skip


def _run(root: Path, config: Any, *, unattended: bool, scope: Any) -> Any:
    from session.run import run_project

    if not (root / "feature_list.json").exists():
        from harness.errors import ArtifactError

        _refuse_beside_live_init(root)  # an init begun since: not "not initialised"
        raise ArtifactError(
            root / "feature_list.json",
            "(whole file)",
            "the project is not initialised: there is no feature list",
            "Start it with `harness init --spec SPEC.md` (or `harness adopt` for a "
            "quickstart project), then `harness run`.",
        )
    return run_project(root, config, unattended=unattended, scope=scope)


def _refuse_beside_live_init(root: Path) -> None:
    """RunLocked (exit 6) while `harness init` of ``root`` runs in another process, known
    by its lock from its first write (its run is recorded later)."""
    from initializer.in_flight import refuse_beside_live_init

    refuse_beside_live_init(root)


def _finish_demo_setup(root: Path) -> bool:
    """A `harness demo` killed before its init: its files are written again."""
    from harness.cli.demo import finish_setup

    return finish_setup(root)


def _restore_init_config(root: Path) -> None:
    """An init killed before it wrote harness.toml: write the one it was to write (its
    model), so this run finishes the init with the model the user chose."""
    from initializer.pending import interrupted_config

    text = interrupted_config(root)
    if text is not None and not (root / "harness.toml").exists():
        from artifacts.io import atomic_write

        atomic_write(root / "harness.toml", text, root=root)


def finish_interrupted_init(
    root: Path, config: Any, demo_setup: bool = False, scope: Any = None
) -> None:
    """An init that was killed is finished first, from its recorded spec."""
    from initializer.pending import interrupted_init

    spec = interrupted_init(root)
    if spec is None and demo_setup and (root / "SPEC.md").is_file():
        spec = root / "SPEC.md"
    if spec is None:
        return
    print(
        f"harness run: finishing the interrupted `harness init --spec {spec}` first",
        file=sys.stderr,
    )
    from initializer.agent import initialize
    from initializer.pending import interrupted_config

    initialize(root, spec, config, config_text=interrupted_config(root), scope=scope)
