"""Build the objects of a run from config: model, accounting, runner, tools, gates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_safety import ConfigChecks
from escalation import Escalation, Gates, Matrix, QuestionStore
from escalation.embed import make_embedder
from escalation.record import Record, RecordError, user_record_path
from harness.config import run_journal, run_scope
from harness.journal.keys import state_home
from harness.model import Accounting, Usage
from harness.model.make import make_model
from harness.tools import ToolRegistry
from runners import Resources
from runners.factory import make_runner
from runners.local import WARNING as NOT_A_SANDBOX
from runners.waited import waited, waited_factory
from session.codemode import make_code_tool
from session.context import WorkContext
from session.env import SessionEnv
from session.gating import ASK_TOOL
from session.tools.files import FILE_TOOLS
from session.tools.work import WORK_TOOLS
from session.verify.wiring import build_evaluator, check_runners, prepare_hidden

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from harness.events import Events
    from harness.journal.protocol import RunJournal
    from harness.scope import RunScope


def session_tools() -> ToolRegistry[WorkContext]:
    """The tools of a working session: files, work, ask_human, and code mode over them."""

    tools = [*FILE_TOOLS, *WORK_TOOLS, ASK_TOOL]
    return ToolRegistry([*tools, make_code_tool(tools)])


def build_escalation(
    root: Path,
    config: HarnessConfig,
    run_id: str,
    *,
    unattended: bool,
    scope: RunScope | None = None,
) -> Escalation:
    """Gates, the durable question store, the matrix and its records for one run: the
    project's record in ``.harness/escalation.db``, the user's beside the journal keys; its
    questions redacted with the run's secrets, told to the run's observers."""

    scope = scope or run_scope(config)
    cfg = config.escalation
    where = run_journal(root, config, scope)  # the questions live beside the journal
    store = QuestionStore(where, project_root=root, redactor=scope.secrets)
    embedder = make_embedder(
        cfg.embedding_model,
        api_base=cfg.embedding_api_base,
        api_key_env=cfg.embedding_api_key_env,
        environ=scope.environ,
    )
    matrix = Matrix(
        cfg,
        store,
        record=Record.of_project(root / ".harness"),
        prior=user_record(state_home(scope.environ), scope.events),
        embedder=embedder,
        unattended=unattended,
    )
    return Escalation(
        gates=Gates(cfg.gates),
        store=store,
        matrix=matrix,
        interactive=not unattended,
        run_id=run_id,
        max_questions=cfg.max_questions_per_session,
        events=scope.events,
        settings=cfg if cfg.learn else None,
        samples=cfg.samples,
    )


def user_record(home: Path, events: Events) -> Record | None:
    """The user's escalation record (the prior of every project), or None, said to the
    run's observers, when it cannot be opened: a damaged prior must not stop a project's
    run."""

    try:
        return Record(user_record_path(home))
    except RecordError as error:
        events.notice(
            f"{error}; this run learns from the project's own record only (move the file "
            "aside to start a new one)"
        )
        return None


def build_env(
    root: Path,
    config: HarnessConfig,
    run: RunJournal,
    *,
    unattended: bool,
    scope: RunScope,
    git_checks: ConfigChecks | None = None,
) -> SessionEnv:
    """The session environment of a run (``git_checks``: the run's git config verdicts,
    default new ones)."""

    runner = waited(
        make_runner(
            config.runner,
            root,
            labels={"harness.run": run.id, "harness.project": str(root.resolve())},
            protected=config.protect.paths,
            environ=scope.public_environ(),
            hidden=config.verify.hidden,
            hide=config.protect.hide,
        ),
        scope.waits,
    )
    if not runner.sandboxed:
        scope.events.notice(NOT_A_SANDBOX)
    accounting = Accounting(config.budgets)
    restore_spent(accounting, run)

    prepare_hidden(root, config, runner, events=scope.events)
    resources = Resources.of(config.runner)
    maxima = Resources.maxima(config.runner)
    return SessionEnv(
        root=root,
        config=config,
        run=run,
        model=make_model(config.model, project_root=root, scope=scope),
        accounting=accounting,
        runner=runner,
        tools=session_tools(),
        gates=build_escalation(root, config, run.id, unattended=unattended, scope=scope),
        resources=resources,
        max_resources=maxima,
        scope=scope,
        git_checks=git_checks or ConfigChecks(say=scope.events.notice),
        check_runners=waited_factory(
            check_runners(config, runner, run.id, scope.public_environ()), scope.waits
        ),
        evaluator=build_evaluator(root, config, accounting, runner, scope),
    )


def restore_spent(accounting: Accounting, run: RunJournal) -> None:
    """A resumed run goes on counting from what it already spent: the measured usage of
    its closed sessions' steps (paid, superseded or not), and the estimates of requests
    lost in flight that those sessions recorded when they closed (replayed steps of an
    open session, estimates included, are added again by the loop, so only closed sessions
    count here)."""

    sessions = run.journal.sessions(run.id)
    closed = {s.number for s in sessions if s.status != "open"}
    # Summed by the journal (not every step of a long run loaded to add two columns up):
    # what the closed sessions' steps paid, superseded ones too, as the run's figures say.
    totals = run.journal.session_totals(run.id)
    spent = [totals[key] for key in totals if key[1] in closed]
    accounting.restore(
        tokens=sum(tokens for _, tokens, _ in spent),
        cost_usd=sum(cost for _, _, cost in spent),
    )
    for row in sessions:
        recorded = (row.summary or {}).get("estimated") if row.number in closed else None
        if recorded:
            accounting.estimated = accounting.estimated + Usage.model_validate(recorded)
