"""`harness run`: sessions until every feature passes, a budget is spent, or a human is needed."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifacts.feature_list import load_feature_list
from artifacts.git_safety import ConfigChecks
from artifacts.git_state import preflight
from artifacts.models import ADOPTED
from artifacts.progress import read_progress
from harness import signals
from harness.config import run_journal, run_scope
from harness.crashlog import save_traceback
from harness.errors import (
    BudgetExhausted,
    ExitCode,
    HarnessError,
    JournalError,
    Outcome,
    StorageError,
)
from harness.events import Event
from harness.journal.faults import from_oserror, probe
from harness.journal.protocol import open_store
from harness.journal.state import run_state
from harness.model.names import no_model_error
from harness.model.pricing import check_dollar_budget
from session.cycle import SessionOutcome, run_session
from session.decided import committed_features, complete_detail, passing_count
from session.env import SessionEnv
from session.evidence import demote_unverified
from session.reverify import reverify_adopted
from session.wiring import build_env

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from artifacts.models import FeatureList
    from harness.events import Events
    from harness.journal.protocol import JournalReader, RunJournal
    from harness.journal.rows import SessionRow
    from harness.scope import RunScope


# The exit code of an outcome the loop reaches by itself; an error that stops the run exits
# with its class's code, its outcome and whether the run stays open from its Disposition.
EXIT_CODES: dict[str, ExitCode] = {
    "complete": ExitCode.OK,
    "budget_exhausted": ExitCode.BUDGET_EXHAUSTED,
    "waiting_for_human": ExitCode.WAITING,
    "waiting": ExitCode.WAITING,
    "stuck": ExitCode.STUCK,
    "failed": ExitCode.FAILED,
    "interrupted": ExitCode.INTERRUPTED,
}
# Outcomes after which `harness run` goes on with the same run (its lock released).
RESUMABLE = ("waiting_for_human", "waiting", "interrupted")
# Sessions in a row that change and check nothing (prose only, reads only) before the run
# is stuck: the model is not working on the feature, more sessions only burn budget.
IDLE_SESSIONS = 3
FIGURES_SCOPE = (
    "tokens and cost_usd cover this run (every step it journaled, across processes and "
    "resumes); figures.project covers every run of the project, the init included; "
    "figures.this_process covers the steps this process ran live (replayed steps are free)"
)


@dataclass
class RunReport:
    """The JSON run report (`--report FILE`)."""

    outcome: Outcome
    exit_code: int
    run_id: str
    detail: str = ""
    features_total: int = 0
    features_passing: int = 0
    sessions: list[SessionOutcome] = field(default_factory=list)
    tokens: int = 0
    cost_usd: float = 0.0
    estimated_tokens: int = 0
    """Tokens of requests in flight at a crash (possibly billed, never answered): an
    estimate from their size, not in `tokens`, counted against the budgets."""
    estimated_cost_usd: float = 0.0
    resumable: bool = False
    """The run stays open: the next `harness run` resumes it (a wait, or a fatal model
    error whose step stays in flight until the user has fixed the key or the name)."""
    runner: str = ""
    wall_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    proofs: dict[str, list[str]] = field(default_factory=dict)
    """Each passing feature's proofs (check, clean, fails-before, evaluator, human, adopted:
    README, "Verified done")."""
    state: str = ""
    """The run's state as this process leaves it, as `harness status` says it
    (``harness.journal.state.RunState``: finished, waiting_for_human, waiting or
    interrupted); empty when the journal could not be read."""

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def run_project(
    root: Path, config: HarnessConfig, *, unattended: bool, scope: RunScope | None = None
) -> RunReport:
    """Drive sessions in `root` and return the report; errors become outcomes, not tracebacks.

    ``scope`` holds the run's environment, secrets, observers and hooks (default: one made
    from ``os.environ`` and ``config`` now, with no observer and no hook)."""

    scope = scope or run_scope(config)
    started = time.monotonic()
    checks = ConfigChecks(say=scope.events.notice)  # the run's git config verdicts
    for note in preflight(root, checks=checks):  # a repository not to use: refused first
        scope.events.notice(note)  # a stale git lock cleared: said unless --quiet
    try:
        # Checked before anything is written: disk writable, SQLite's check (or the
        # database reachable), the key.
        journal = open_store(
            run_journal(root, config, scope),
            synchronous=config.journal.synchronous,
            redactor=scope.secrets,
            events=scope.events,
        )
    except StorageError as exc:
        return _stopped(root, exc, started)
    try:
        run_id = journal.close_abandoned("run")
        if (
            run_id is None
            and finished(root, checks)
            and not _demote_unverified(root, journal, scope)
        ):
            return _nothing_to_do(root, journal, scope.events, checks)
        if not config.model.name:
            raise no_model_error()  # exit 2, before a run is started or anything paid for

        check_dollar_budget(config.model, config.budgets)  # never a budget that counts $0
        resumed = run_id is not None
        run = journal.resume_run(run_id) if run_id else journal.start_run("run")
        run.park(None, {})  # driven again: no longer parked
    except StorageError as exc:
        journal.close()
        return _stopped(root, exc, started)
    except BaseException:
        journal.close()
        raise
    spent_before = journal.usage(run.id)
    if scope.events.active:
        data = {"resumed": resumed, "project": str(root), "unattended": unattended}
        data.update(tokens=spent_before[0], cost_usd=spent_before[1])
        scope.events.emit(Event("run.started", run.id, data=data))
    report = RunReport(outcome="failed", exit_code=int(ExitCode.FAILED), run_id=run.id)
    try:
        outcome, detail, code, keep_open = _drive(
            root, config, run, report, unattended=unattended, scope=scope, checks=checks
        )
    except JournalError:
        journal.close()  # damaged, forged, lost, key missing: stop, write nothing more
        raise
    committed = committed_features(root, checks)
    passing, total = passing_count(root, committed)  # HEAD must agree, not the disk only
    report.outcome = outcome
    report.exit_code = code
    report.detail = detail
    report.features_total = total
    report.features_passing = passing
    report.proofs = passing_proofs(committed)
    try:
        report.tokens, report.cost_usd = _figures(journal, run.id, spent_before, report)
    except StorageError:  # the journal's database went away: the figures as the run began
        report.tokens, report.cost_usd = spent_before[0], round(spent_before[1], 6)
    report.wall_s = round(time.monotonic() - started, 3)
    report.resumable = report.resumable or keep_open or outcome in RESUMABLE
    try:
        unfinished = _open_numbers(journal, run.id)
    except StorageError:  # the journal's database went away: the run waits on it, resumable
        unfinished = []
    if not report.resumable and unfinished:
        # A session is never closed without its writeback: the run stays open, and the
        # next `harness run` resumes that session (its failed step runs again) and commits.
        report.resumable = True
        report.detail = detail = (
            f"{detail}; session {unfinished[0]} has not made its writeback yet: `harness run` "
            "resumes it"
        )
    if not report.resumable:
        journal.close_open_sessions(run.id, outcome)
        run.finish(outcome, {"detail": detail, "passing": passing, "runner": report.runner})
    else:  # the run stays unfinished for `harness run` to resume; status says why it stopped
        # (a full or read-only disk has no room for this note: the report says it)
        with contextlib.suppress(StorageError):
            run.park(outcome, {"detail": detail, "at": time.time(), "runner": report.runner})
    report.state = _left_as(journal, run.id)
    journal.close()  # releases the run lock
    if scope.events.active:
        data = {"report": asdict(report)}
        scope.events.emit(Event("run.ended", run.id, status=outcome, data=data))
    return report


def _drive(
    root: Path,
    config: HarnessConfig,
    run: RunJournal,
    report: RunReport,
    *,
    unattended: bool,
    scope: RunScope,
    checks: ConfigChecks,
) -> tuple[Outcome, str, int, bool]:
    """(outcome, detail, exit code, whether the open session must stay open) of driving the
    run's sessions (``checks``: the run's git config verdicts)."""

    env: SessionEnv | None = None
    outcome: Outcome
    try:
        env = build_env(root, config, run, unattended=unattended, scope=scope, git_checks=checks)
        report.runner = env.runner.describe()
        run.annotate(
            {
                "runner": {
                    "name": env.runner.name,
                    "sandboxed": env.runner.sandboxed,
                    "description": report.runner,
                }
            }
        )
        reverify_adopted(env)
        outcome, detail = _loop(env, report)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, SIGTERM, SIGHUP (harness.signals)
        detail = (
            f"interrupted ({signals.describe(interrupt)}); `harness run` resumes at the step "
            "it stopped in"
        )
        return "interrupted", detail, signals.exit_code(interrupt), False
    except HarnessError as exc:
        run.journal.check_present()  # a write failed because .harness/ is gone: say that
        # What the error means for the run is declared on its class (harness.errors).
        found = exc.disposition
        if found.halts:
            raise  # damaged, forged, lost, key missing, locked: the caller stops
        if found.outcome != "failed":
            return found.outcome, _stopped_by(exc), int(exc.exit_code), found.resumable
        outcome, detail = _storage_or(root, exc, "failed")
        if outcome == "failed":
            # resumable: a refused repository, a commit not made yet, a model the user
            # must fix: after the fix `harness run` goes on from the step left in flight.
            report.resumable = report.resumable or found.resumable
            return "failed", str(exc), int(exc.exit_code), found.resumable
    except Exception as exc:  # a bug of ours, MemoryError, an OSError not of storage
        run.journal.check_present()
        outcome, detail = _storage_or(root, exc, "failed")
        if outcome == "failed":
            # The run stays open with its session: the failed step runs again on resume
            # (it is no verdict of the model), and the session makes its writeback.

            where = save_traceback(root, scope.secrets)
            detail = (
                f"internal error: {type(exc).__name__}: {exc}. The journal kept every "
                f"finished step; `harness run` resumes from there. Traceback: {where}"
            )
            return "failed", detail, int(ExitCode.FAILED), True
    finally:
        if env is not None:
            report.estimated_tokens = env.accounting.estimated.total_tokens
            report.estimated_cost_usd = round(env.accounting.estimated.cost_usd, 6)
            env.runner.close()
            if env.gates is not None:
                env.gates.close()
    return outcome, detail, int(EXIT_CODES[outcome]), False


def _figures(
    journal: JournalReader, run_id: str, before: tuple[int, float], report: RunReport
) -> tuple[int, float]:
    """The run's tokens and dollars, and the report's labelled figures (one source: the
    journal's step rows, so the report, the progress lines and the TUI agree)."""
    run_tokens, run_cost = journal.usage(run_id)
    project_tokens, project_cost = journal.usage()
    report.figures = {
        "scope": FIGURES_SCOPE,
        "run": {"tokens": run_tokens, "cost_usd": round(run_cost, 6)},
        "project": {"tokens": project_tokens, "cost_usd": round(project_cost, 6)},
        "this_process": {
            "tokens": run_tokens - before[0],
            "cost_usd": round(run_cost - before[1], 6),
        },
    }
    return run_tokens, round(run_cost, 6)


def finished(root: Path, checks: ConfigChecks | None = None) -> bool:
    """Every feature passes, and none on an adoption's word alone."""

    features = load_feature_list(root).features
    committed = committed_features(root, checks)
    # A file rewritten on disk after the last commit does not finish a run: HEAD must agree.
    at_head = None if committed is None else {f.id for f in committed.features if f.passes}
    return all(
        f.passes
        and not (f.evidence and f.evidence.verification == ADOPTED)
        and (at_head is None or f.id in at_head)
        for f in features
    )


def passing_proofs(committed: FeatureList | None) -> dict[str, list[str]]:
    """feature id -> the proofs its evidence holds, for the features passing at HEAD
    (``committed``: :func:`session.decided.committed_features`)."""

    if committed is None:
        return {}
    return {f.id: f.evidence.proofs() for f in committed.features if f.passes and f.evidence}


def _left_as(journal: JournalReader, run_id: str) -> str:
    """The run's state once this process lets it go (its lock released at close)."""

    with contextlib.suppress(StorageError, JournalError):
        for row in journal.runs():
            if row.id == run_id:
                return run_state(row, holder=None).state
    return ""


def _nothing_to_do(
    root: Path, journal: JournalReader, events: Events, checks: ConfigChecks
) -> RunReport:
    """A finished project: report it without starting an (empty) run."""

    features = load_feature_list(root)
    last = journal.latest_busy_run() or ""
    tokens, cost = journal.usage(last) if last else (0, 0.0)
    journal.close()
    report = RunReport(
        outcome="complete",
        exit_code=int(ExitCode.OK),
        run_id=last,
        detail=f"nothing to do (no run started): {complete_detail(features)}",
        features_total=len(features.features),
        features_passing=features.passing,
        proofs=passing_proofs(committed_features(root, checks)),
        tokens=tokens,
        cost_usd=round(cost, 6),
        figures={"scope": FIGURES_SCOPE, "run": {"tokens": tokens, "cost_usd": round(cost, 6)}},
    )
    if events.active:  # a stream's reader still gets its last line: the report
        data = {"report": asdict(report), "started": False}
        events.emit(Event("run.ended", last, status="complete", data=data))
    return report


def _loop(env: SessionEnv, report: RunReport) -> tuple[Outcome, str]:

    every = env.run.journal.sessions()  # one read for both (each a round trip in a fleet)
    open_session = _open_session(env, every)
    sessions_run = 0
    idle = _idle_streak(every)  # counted across runs: a nightly job is a session or two a night
    started = time.monotonic()
    wall_limit = env.config.budgets.run_wall_s
    if wall_limit is not None:
        env.wall = started + wall_limit  # sessions' tools and commands stop there too
    while True:
        if open_session is None:
            if wall_limit is not None and time.monotonic() - started > wall_limit:
                return "budget_exhausted", f"run wall-time limit {wall_limit:g}s reached"
            env.run.journal.check_present()  # .harness/ removed under us: never "complete"
            done = finished(env.root, env.git_checks)
            if done and not _demote_unverified(env.root, env.run.journal, env.scope):
                return "complete", complete_detail(load_feature_list(env.root))
            limit = env.config.budgets.run_sessions
            if limit is not None and sessions_run >= limit:
                return "budget_exhausted", f"all {limit} sessions of the run (run_sessions) used"
        number = open_session if open_session is not None else _next_session_number(env)
        open_session = None
        outcome: SessionOutcome = run_session(env, number)
        sessions_run += 1
        report.sessions.append(outcome)
        if outcome.ending == "parked":
            return "waiting_for_human", outcome.detail
        if outcome.ending == "stuck":
            return "stuck", f"session {number}: {outcome.detail}"
        idle = idle + 1 if outcome.idle and outcome.ending != "passing" else 0
        if idle >= IDLE_SESSIONS:
            return "stuck", (
                f"{idle} sessions in a row (the last: {number}) changed and checked nothing: "
                "the model answers without working on the feature. Try a stronger model "
                "(`[model] name`) or look at progress.md and the journal (`harness log`)."
            )
        if outcome.ending == "budget" and (
            _run_budget_spent(env) or (env.wall is not None and time.monotonic() >= env.wall)
        ):
            return "budget_exhausted", outcome.detail


def _demote_unverified(root: Path, journal: JournalReader, scope: RunScope) -> bool:
    """Passing features whose evidence does not hold in this journal turn failing (to be
    verified again); each is a notice of the run's events. True if there was any."""

    found = demote_unverified(root, journal)
    for item in found:
        scope.events.notice(f"{item.text()}; it is failing again and will be verified")
    return bool(found)


def _stopped(root: Path, error: StorageError, started: float) -> RunReport:
    """The report of a run that could not even open its journal for a storage reason."""

    features = load_feature_list(root)
    return RunReport(
        outcome="waiting",
        exit_code=int(EXIT_CODES["waiting"]),
        run_id="",
        detail=_stopped_by(error),
        features_total=len(features.features),
        features_passing=features.passing,
        wall_s=round(time.monotonic() - started, 3),
    )


def _stopped_by(error: HarnessError) -> str:
    """The detail of a run an error stopped: its message and, for a wait, what it waits
    for and since when (the cause of exit 4, in words)."""
    waits_for = error.disposition.waits_for
    if not waits_for or "since" in error.message:
        return str(error)
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"{error} (waiting for {waits_for} since {since})"


def _storage_or(root: Path, error: BaseException, outcome: Outcome) -> tuple[Outcome, str]:
    """A failure on a full or read-only disk is named as such (and the run is resumable):
    the disk is tried, not guessed from the message."""

    found = from_oserror(root, error) if isinstance(error, OSError) else None
    found = found or probe(root / ".harness") or probe(root)
    if found is not None:
        return "waiting", _stopped_by(found)
    return outcome, str(error)


def _idle_streak(every: list[SessionRow]) -> int:
    """Closed sessions at the end of the journal (``every`` session of every run) that
    changed nothing."""
    streak = 0
    closed = [s for s in every if s.status == "closed" and s.number > 0]
    for session in reversed(closed):  # journal order: the clock may have gone back
        if not (session.summary or {}).get("idle") or session.outcome == "passing":
            break
        streak += 1
    return streak


def _open_session(env: SessionEnv, every: list[SessionRow]) -> int | None:
    """The session of this run that a crash or a question interrupted, if any (of
    ``every`` session of the journal)."""
    run_id = env.run.id
    open_numbers = sorted(
        s.number for s in every if s.run_id == run_id and s.status == "open" and s.number
    )
    return open_numbers[0] if open_numbers else None


def _open_numbers(journal: JournalReader, run_id: str) -> list[int]:
    """The sessions of the run still open (no writeback made yet), lowest first."""
    return sorted(s.number for s in journal.sessions(run_id) if s.status == "open" and s.number)


def _next_session_number(env: SessionEnv) -> int:
    """Session numbers run through the project's life: after every journaled session and
    every entry of progress.md (which travels in git even when the journal does not)."""

    numbers = [s.number for s in env.run.journal.sessions()]
    numbers += [entry.session for entry in read_progress(env.root)]
    return max(numbers, default=0) + 1


def _run_budget_spent(env: SessionEnv) -> bool:
    try:
        env.accounting.check_run()
    except BudgetExhausted:
        return True
    return False
