"""One session: wake → orient → work → writeback, each phase a function made of journaled
steps (their names and order are what a recorded session replays against)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from artifacts.config import protected_paths
from artifacts.feature_list import load_feature_list
from artifacts.git_state import init_sh_trusted
from escalation.learn import FitReport, Settled
from escalation.trace import Settling, file_digest
from runners import CommandResult
from session.brief import build_messages, pick_feature
from session.chaos import with_hooks
from session.context import WorkContext
from session.env import SessionEnv
from session.evidence import demote_unverified
from session.gating import task_type
from session.loop import AgentLoop, Limits, LoopOutcome, SessionEnding
from session.sentinel import Sentinel, check_against_head
from session.setup_tree import run_setup
from session.verify.clean import sweep
from session.verify.hidden import HiddenFiles, snapshot
from session.verify.verifier import Verifier
from session.writeback import commit_session, wake_repository

if TYPE_CHECKING:
    from artifacts.models import Feature
    from harness.journal.protocol import StepJournal
    from session.writeback import WakeSnapshot

INIT_SCRIPT = "init.sh"
FEATURE_LIST_STEP = "feature list"  # git/"feature list": the list the session starts from
# bash where the image has it (init.sh is a bash script), else the POSIX shell.
WAKE_COMMAND = f"if command -v bash >/dev/null; then bash {INIT_SCRIPT}; else sh {INIT_SCRIPT}; fi"


@dataclass
class SessionOutcome:
    number: int
    feature: str | None
    ending: SessionEnding
    detail: str = ""
    steps: int = 0
    commit: str | None = None
    idle: bool = False
    """No tool changed or checked anything (no write, command or verification)."""


@dataclass
class Woken:
    """What wake found: init.sh's result (None: no init.sh) and what the harness restored."""

    result: CommandResult | None
    notes: list[str] = field(default_factory=list)
    user_files: list[str] = field(default_factory=list)  # the wake snapshot's paths
    head: str | None = None  # the commit the session started from (the snapshot's)
    protected_extras: dict[str, list[int]] = field(default_factory=dict)  # and its extras
    known: bytes | None = None  # the feature list the session starts from (journaled)


@dataclass
class Worked:
    """What the work phase left: the session's record and how its loop ended."""

    ctx: WorkContext
    outcome: LoopOutcome
    ending: SessionEnding  # "passing" when the feature was marked, else the loop's ending
    known: bytes | None = None  # the feature-list bytes the guarded tools wrote
    idle: bool = False  # no tool changed or checked anything (see session.loop.CHANGERS)


def run_session(env: SessionEnv, number: int) -> SessionOutcome:
    """Run (or resume, replaying its recorded steps) session `number` of the run:
    wake → orient → work → writeback, each phase made of journaled steps."""
    journal = with_hooks(env.run.session(number), env.scope)

    snapshot: WakeSnapshot = wake_repository(env, journal)  # refuses a repository not to use
    woken = wake(env, journal)
    woken.user_files = snapshot.paths
    woken.head = snapshot.head
    woken.protected_extras = snapshot.protected_extras
    feature = orient(env, journal)
    if feature is None:
        journal.close("complete", {"feature": None})
        return SessionOutcome(number, None, "complete")
    worked = work(env, journal, number, feature, woken)
    if worked.outcome.ending == "parked":
        # The session stays open: the next `harness run` replays it up to the question.
        return SessionOutcome(
            number, feature.id, "parked", worked.outcome.detail, worked.outcome.steps
        )
    return writeback(env, journal, number, feature.id, worked, snapshot)


def wake(env: SessionEnv, journal: StepJournal) -> Woken:
    """Check the feature list against HEAD and its evidence against the journal, run
    init.sh (a step), undo what it did to the feature list."""

    notes = []
    restored = None if journal.replaying else check_against_head(env.root, env.git_checks)
    if restored:
        notes.append(restored)
    # Passing features whose evidence the journal does not bear out (a lost, replaced or
    # forged journal) turn failing, to be verified again.
    unverified = [] if journal.replaying else demote_unverified(env.root, env.run.journal)
    notes.extend(f"{item.text()}; failing again, to be verified" for item in unverified)
    sentinel = Sentinel(env.root)  # before init.sh: it may not change the feature list
    _start_from_record(env, journal, sentinel)
    result = _wake(env, journal)
    # Past a replayed wake, the file is the killed run's: the work's sentinel puts back
    # what is not harness's at its first live tool call (unannounced when the file is as
    # the killed run left it: the call in flight runs again and says what it does).
    if not journal.replaying and sentinel.restore():
        notes.append("init.sh changed feature_list.json at wake; the harness restored it.")
    return Woken(result if isinstance(result, CommandResult) else None, notes, known=sentinel.known)


def _start_from_record(env: SessionEnv, journal: StepJournal, sentinel: Sentinel) -> None:
    """The feature list the session starts from, kept as a git object whose id a step
    records: a resumed session knows it from there, never from the file as the killed
    run left it (an agent's command may have changed it just before the kill)."""
    if _recorded_without(journal, "git", FEATURE_LIST_STEP):
        # Journaled by a harness before this step: its start is HEAD's list, computed and
        # not recorded, so the replay goes on matching the steps that were.
        sentinel.take_head(env.git_checks)
        return
    kept = False

    def keep() -> str | None:
        nonlocal kept
        kept = True
        return sentinel.keep(env.git_checks)

    recorded = journal.step("git", FEATURE_LIST_STEP, {}, keep, output=str | None)  # type: ignore[arg-type]
    if not kept:
        sentinel.take(recorded, env.git_checks)


def _recorded_without(journal: StepJournal, kind: str, name: str) -> bool:
    """True when the session's record goes on without step ``kind``/``name`` where this
    code asks for it (a step added since the session was recorded)."""
    upcoming = journal.recorded_next()
    return upcoming is not None and upcoming != (kind, name)


def orient(env: SessionEnv, journal: StepJournal) -> Feature | None:
    """The session's unit of work (a step): the highest-priority failing feature."""

    def pick() -> str | None:
        chosen = pick_feature(load_feature_list(env.root))
        return chosen.id if chosen else None

    feature_id = journal.step("artifact", "orient", {}, pick, output=str | None)  # type: ignore[arg-type]
    return load_feature_list(env.root).get(feature_id) if feature_id else None


def work(
    env: SessionEnv, journal: StepJournal, number: int, feature: Feature, woken: Woken
) -> Worked:
    """The agent loop on a fresh context built from the artifacts."""

    ctx = WorkContext(
        root=env.root,
        runner=env.runner,
        run_id=env.run.id,
        session=number,
        feature=feature,
        resources=env.resources,
        max_resources=env.max_resources,
        placement=env.scope.placement,
        gates=env.gates,
        protected=protected_paths(env.config),
        hidden=env.config.verify.hidden,
        secret=env.config.protect.hide,
        user_files=woken.user_files,
        protected_extras=woken.protected_extras,
        tool_s=env.config.budgets.tool_s,
        wall=env.wall,
        wall_what=f"run wall-time limit {env.config.budgets.run_wall_s:g}s" if env.wall else "",
    )
    ctx.verifier = _verifier(env, journal, woken)
    budgets = env.config.budgets
    limits = Limits(
        steps=budgets.session_steps or 10**9,
        wall_s=budgets.session_wall_s,
        context_window=env.config.model.context_window,
        compact_at=env.config.model.compact_at,
    )
    env.accounting.start_session()
    loop = AgentLoop(
        journal=journal,
        model=env.model,
        model_name=env.config.model.name or env.model.name,
        tools=env.tools,
        ctx=ctx,
        accounting=env.accounting,
        limits=limits,
        on_step=env.scope.hooks,
        redactor=env.scope.secrets,
    )

    def brief() -> list[dict[str, Any]]:
        return build_messages(
            env.root,
            load_feature_list(env.root),
            feature,
            session=number,
            wake=woken.result,
            runner=getattr(env.runner, "name", "runner"),
            hidden=env.config.verify.hidden,
            sandboxed=env.runner.sandboxed,
            checks=env.git_checks,
        )

    # A step: a resumed session sends the model the brief the killed one built, not one
    # rebuilt from the feature list, progress file and git log its own writeback changed.
    # What the session's tools may change the feature list from: the record's, not the file.
    loop.pipeline.sentinel.known = woken.known
    messages = journal.step("artifact", "brief", {"feature": feature.id}, brief)
    ctx.notes.extend(woken.notes)
    try:
        outcome = loop.run(messages)
    finally:
        ctx.close()  # the tool worker's process
    env.runner.stop()  # no process of the session survives into the checks and writeback
    if loop.pipeline.sentinel.restore():
        ctx.notes.append("feature_list.json was changed outside the guarded tools; restored.")
    ending = "passing" if feature.id in ctx.marked else outcome.ending
    return Worked(ctx, outcome, ending, loop.pipeline.sentinel.known, idle=not loop.changed)


def _verifier(env: SessionEnv, journal: StepJournal, woken: Woken) -> Verifier | None:
    """The session's verifier (None without a way to make clean checkouts: unit tests);
    the hidden files are recorded now (a step), so a resumed session lays the same."""

    if env.check_runners is None:
        return None
    sweep()  # checkouts a killed harness left behind
    hidden = env.config.verify.hidden
    files = HiddenFiles()
    if hidden:
        files = journal.step(
            "artifact", "hidden", {"paths": hidden}, lambda: snapshot(env.root, hidden),
            output=HiddenFiles,
        )  # fmt: skip
    return Verifier(
        root=env.root,
        config=env.config,
        make_runner=env.check_runners,
        start=woken.head,
        user_files=woken.user_files,
        hidden=files,
        evaluator=env.evaluator,
        sandboxed=env.runner.sandboxed,
        checks=env.git_checks,
        secrets=env.scope.secrets,
    )


def writeback(
    env: SessionEnv,
    journal: StepJournal,
    number: int,
    feature: str,
    worked: Worked,
    snapshot: WakeSnapshot,
) -> SessionOutcome:
    """Plan, progress entry and commit of only what harness decided (session/writeback.py),
    then close the session."""

    outcome, ending = worked.outcome, worked.ending
    sha, ending = commit_session(
        env, journal, number, feature, ending, outcome, worked.ctx, snapshot, worked.known
    )
    learn(env, journal, number, worked.ctx, passed=ending == "passing")
    summary: dict[str, Any] = {"feature": feature, "steps": outcome.steps, "commit": sha}
    summary["idle"] = worked.idle
    if env.accounting.session_estimated.total_tokens:  # a later process restores it
        summary["estimated"] = env.accounting.session_estimated.model_dump()
    journal.close(ending, summary)
    idle = worked.idle
    return SessionOutcome(number, feature, ending, outcome.detail, outcome.steps, sha, idle)


def learn(
    env: SessionEnv, journal: StepJournal, number: int, ctx: WorkContext, *, passed: bool
) -> None:
    """Settle the session's escalation decisions into outcomes and refit the matrix's
    weights and threshold on the record: two journaled steps (a resumed writeback replays
    them; the records keep each outcome and fit once, by key)."""
    escalation = env.gates
    if escalation is None:
        return

    def question(question_id: str) -> Any:
        return escalation.store.find_id(question_id)

    how = Settling(
        run=env.run.id,
        session=number,
        task_type=task_type(ctx),
        feature_passed=passed,
        question=question,
        on_disk=lambda path: file_digest(env.root / path),
    )
    journal.step(
        "escalation",
        "outcomes",
        {"session": number},
        lambda: escalation.settle(ctx.trace, how),
        output=Settled,
    )
    if escalation.learns:
        report = journal.step(
            "escalation",
            "fit",
            {"session": number},
            lambda: escalation.refit(journal.ref(journal.seq)),
            output=FitReport,
        )
        escalation.announce(report, number)


def _wake(env: SessionEnv, journal: StepJournal) -> CommandResult | None:

    if not (env.root / INIT_SCRIPT).is_file():
        return None
    # An init.sh the agent edited (uncommitted, or last committed by a session) runs with
    # the agent's own resources, never the setup network (README, "Security model"). A
    # trusted one gets the network only on the tree a person or the initializer committed
    # (session/setup_tree.py): it may run any other file of the project.
    # Asked only when the step runs (two git commands): a replayed wake has its result.

    def run() -> CommandResult:
        trusted = init_sh_trusted(env.root, checks=env.git_checks)
        if trusted and env.runner.sandboxed and env.config.runner.setup_network:
            protected = protected_paths(env.config)
            return run_setup(env.root, env.runner, WAKE_COMMAND, protected, env.git_checks)
        if trusted:
            return env.runner.run(WAKE_COMMAND, phase="setup")
        return env.runner.run(WAKE_COMMAND, phase="agent", resources=env.resources)

    return journal.step(
        "runner", "wake:init.sh", {"command": WAKE_COMMAND}, run, output=CommandResult
    )
