"""`harness run`: sessions until every feature passes, a budget is spent, or a human is needed."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import BudgetExhausted, ExitCode, HarnessError, QuotaExhausted, RunnerError
from session.chaos import CrashSwitch
from session.cycle import SessionEnv, SessionOutcome, run_session

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig

Outcome = Literal["complete", "budget_exhausted", "waiting_for_human", "stuck", "failed"]

EXIT_CODES: dict[str, ExitCode] = {
    "complete": ExitCode.OK,
    "budget_exhausted": ExitCode.BUDGET_EXHAUSTED,
    "waiting_for_human": ExitCode.WAITING_FOR_HUMAN,
    "stuck": ExitCode.STUCK,
    "failed": ExitCode.FAILED,
}


@dataclass
class RunReport:
    """The JSON run report (`--report FILE`)."""

    outcome: Outcome
    exit_code: int
    run_id: str
    detail: str = ""
    features_total: int = 0
    features_passing: int = 0
    sessions: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    cost_usd: float = 0.0
    runner: str = ""
    wall_s: float = 0.0

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def run_project(root: Path, config: HarnessConfig, *, unattended: bool) -> RunReport:
    """Drive sessions in `root` and return the report; errors become outcomes, not tracebacks."""
    from artifacts.feature_list import load_feature_list
    from harness.journal import Journal
    from session.wiring import build_env

    started = time.monotonic()
    state_dir = root / ".harness"
    journal = Journal.open(state_dir, synchronous=config.journal.synchronous)
    run_id = journal.unfinished_run("run")
    run = journal.resume_run(run_id) if run_id else journal.start_run("run")
    switch = CrashSwitch.from_env(state_dir)
    report = RunReport(outcome="failed", exit_code=int(ExitCode.FAILED), run_id=run.id)
    env: SessionEnv | None = None
    try:
        env = build_env(root, config, run, unattended=unattended, on_step=switch)
        report.runner = env.runner.describe() if hasattr(env.runner, "describe") else ""
        outcome, detail = _loop(env, report)
    except (BudgetExhausted, QuotaExhausted, RunnerError) as exc:
        outcome = (
            "waiting_for_human"
            if exc.exit_code == ExitCode.WAITING_FOR_HUMAN
            else ("budget_exhausted")
        )
        detail = str(exc)
    except HarnessError as exc:
        outcome, detail = "failed", str(exc)
    finally:
        if env is not None:
            env.runner.close()
            if env.gates is not None:
                env.gates.store.close()
    features = load_feature_list(root)
    report.outcome = outcome
    report.exit_code = int(EXIT_CODES[outcome])
    report.detail = detail
    report.features_total = len(features.features)
    report.features_passing = features.passing
    if env is not None:
        report.tokens = env.accounting.run_usage.total_tokens
        report.cost_usd = round(env.accounting.run_usage.cost_usd, 6)
    report.wall_s = round(time.monotonic() - started, 3)
    if outcome != "waiting_for_human":
        run.finish(outcome, {"detail": detail, "passing": features.passing})
    journal.close()  # releases the run lock
    return report


def _loop(env: SessionEnv, report: RunReport) -> tuple[Outcome, str]:
    from artifacts.feature_list import load_feature_list

    open_session = _open_session(env)
    sessions_run = 0
    started = time.monotonic()
    wall_limit = env.config.budgets.run_wall_s
    while True:
        if open_session is None:
            if wall_limit is not None and time.monotonic() - started > wall_limit:
                return "budget_exhausted", f"run wall-time limit {wall_limit:g}s reached"
            features = load_feature_list(env.root)
            if features.passing == len(features.features):
                return "complete", f"all {len(features.features)} features pass"
            limit = env.config.budgets.run_sessions
            if limit is not None and sessions_run >= limit:
                return "budget_exhausted", f"all {limit} sessions of the run (run_sessions) used"
        number = open_session if open_session is not None else _next_session_number(env)
        open_session = None
        outcome: SessionOutcome = run_session(env, number)
        sessions_run += 1
        report.sessions.append(asdict(outcome))
        if outcome.ending == "parked":
            return "waiting_for_human", outcome.detail
        if outcome.ending == "stuck":
            return "stuck", f"session {number}: {outcome.detail}"
        if outcome.ending == "budget" and _run_budget_spent(env):
            return "budget_exhausted", outcome.detail


def _open_session(env: SessionEnv) -> int | None:
    """The session of this run that a crash or a question interrupted, if any."""
    open_numbers = [s.number for s in env.run.journal.sessions(env.run.id) if s.status == "open"]
    return min(open_numbers) if open_numbers else None


def _next_session_number(env: SessionEnv) -> int:
    """Session numbers run through the project's life: after every journaled session and
    every entry of progress.md (which travels in git even when the journal does not)."""
    from artifacts.progress import read_progress

    numbers = [s.number for s in env.run.journal.sessions()]
    numbers += [entry.session for entry in read_progress(env.root)]
    return max(numbers, default=0) + 1


def _run_budget_spent(env: SessionEnv) -> bool:
    try:
        env.accounting.check_run()
    except BudgetExhausted:
        return True
    return False
