"""Learning from the record: a closed session's decisions become outcomes, then a refit.

``settle_session`` labels the session's decisions (``escalation.trace``), adds an outcome
for each approval a policy gate asked for, and keeps them in the project record and the
user record; it relabels the run's earlier decisions that this session's end shows should
have asked (``escalation.relabel``). ``refit`` fits weights and threshold on the record
(``escalation.fit``).

A refit is deterministic and resumable: it first stores a checkpoint naming the outcome
ids it reads (in both records), and commits its result and drops the checkpoint in one
transaction. A fit killed midway leaves no result; run again under the same key it finds
its checkpoint and reads the same rows, even if other projects added outcomes in between,
so it produces the same weights. The session calls both inside journaled steps.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from escalation.check import Check
from escalation.fit import (
    THRESHOLD_WINDOW,
    Fit,
    FitSettings,
    Policy,
    fit,
    policy_of,
)
from escalation.logistic import Hook
from escalation.outcomes import Outcome
from escalation.questions import QuestionStore
from escalation.record import Record, RecordError
from escalation.relabel import answered_since, undone_since
from escalation.trace import Settling, Trace, settle, situation_digest, sketches, windows


class Settled(BaseModel):
    """A closed session's outcomes, as the session journals them."""

    outcomes: list[Outcome]
    relabeled: dict[str, str] = {}
    """Earlier sessions' outcomes (by key) this session showed should have asked, and why."""
    user_record_error: str | None = None
    """Why the user's record did not take them (the project's did), if it did not."""


class FitReport(BaseModel):
    """A refit's result, as the session journals it."""

    fit: Fit
    changed: bool
    """The weights or threshold in force changed with this fit."""
    before: Policy
    after: Policy

    def change(self) -> str:
        """The change in one line, for the run's progress line ("" when nothing changed)."""
        if not self.changed:
            return ""
        b, a, f = self.before, self.after, self.fit
        said = (
            f"escalation policy refitted on {a.outcomes} outcomes: weights "
            f"{_weights(b.weights)} -> {_weights(a.weights)} (uncertainty/novelty/benefit), "
            f"threshold {b.threshold:.3f} -> {a.threshold:.3f}"
        )
        if f.fitted:
            said += (
                f"; on the record it catches {f.recall:.0%} of should-ask cases asking on "
                f"{f.ask_rate:.0%} of decisions (target: {f.target})"
            )
        return said


def _weights(weights: tuple[float, float, float]) -> str:
    return "/".join(f"{w:.2f}" for w in weights)


def settle_session(
    trace: Trace,
    how: Settling,
    store: QuestionStore,
    record: Record,
    prior: Record | None,
) -> Settled:
    """The session's outcomes, kept in the project record and the user record (once)."""
    outcomes = settle(trace, how) + gate_outcomes(store, how)
    project = record.project_id()
    record.add(project, outcomes)
    record.keep_windows(project, windows(trace))
    sketched = sketches(trace)
    record.keep_sketches(project, sketched)
    mattered = [sketched[o.key] for o in outcomes if o.asked and o.should_ask and o.key in sketched]
    relabeled = answered_since(record, project, how.run, how.session, mattered)
    relabeled |= undone_since(record, project, how.run, how.session, how.on_disk)
    record.relabel(project, relabeled, how.run, how.session)
    error = None
    if prior is not None:
        try:
            prior.add(project, outcomes)
            prior.relabel(project, relabeled, how.run, how.session)
        except RecordError as failed:  # the user's record is a prior: the run goes on
            error = str(failed)
    return Settled(outcomes=outcomes, relabeled=relabeled, user_record_error=error)


def gate_outcomes(store: QuestionStore, how: Settling) -> list[Outcome]:
    """Approvals the gates asked for in the session: approved (agreed) or denied."""
    found = []
    for q in store.all():
        if q.kind != "approval" or q.run != how.run or q.session != how.session or q.pending:
            continue
        agreed = q.status == "approved"
        found.append(
            Outcome(
                key=q.key or q.id,
                source="gate",
                topic=q.topic,
                task_type=how.task_type,
                situation=situation_digest(q.topic, q.text),
                run=q.run,
                session=q.session,
                asked=True,
                question=q.id,
                human_agreed=agreed,
                feature_passed=how.feature_passed,
                should_ask=not agreed,
            )
        )
    return found


def refit(
    record: Record,
    prior: Record | None,
    settings: FitSettings,
    *,
    key: str,
    hook: Hook | None = None,
) -> FitReport:
    """Fit on the record and keep the fit under ``key`` (see the module docstring)."""
    project = record.project_id()
    earlier = [f for f in record.fits(project) if f["key"] != key]
    before = policy_of(earlier[-1] if earlier else None, settings)
    start = {
        "own": record.last_id(),
        "prior": prior.last_id() if prior is not None else 0,
        "own_relabels": record.last_relabel(),
        "prior_relabels": prior.last_relabel() if prior is not None else 0,
    }
    point = record.checkpoint(project, key, start)
    mine = point.get("own_relabels", 0)  # checkpoints older than relabels read none
    own = record.cells(up_to=point["own"], project=project, relabels=mine)
    recent = record.cells(
        up_to=point["own"], project=project, newest=THRESHOLD_WINDOW, relabels=mine, exact=True
    )
    sessions = record.sessions(up_to=point["own"], project=project)
    other, projects = [], 0
    if prior is not None:
        theirs = point.get("prior_relabels", 0)
        other = prior.cells(up_to=point["prior"], other_than=project, relabels=theirs)
        sessions += prior.sessions(up_to=point["prior"], other_than=project)
        projects = prior.projects(up_to=point["prior"], other_than=project)
    check = _check(record, prior, project, point, settings)
    result = fit(
        own, other, settings, sessions=sessions, recent=recent, prior_projects=projects,
        check=check, hook=hook,
    )  # fmt: skip
    if result.fitted:
        stored = record.commit_fit(project, key, result.model_dump(mode="json"))
        result = Fit.model_validate(stored)
    else:
        record.drop_checkpoint(project, key)
    after = policy_of(result.model_dump(mode="json"), settings) if result.fitted else before
    changed = after.weights != before.weights or after.threshold != before.threshold
    return FitReport(fit=result, changed=changed, before=before, after=after)


def _check(
    record: Record,
    prior: Record | None,
    project: str,
    point: dict[str, Any],
    settings: FitSettings,
) -> Check:
    """The outcomes the fitted weights are tested on (``escalation.fit``): this project's two
    halves; while it has fewer than twice the fit's minimum and the user's other projects
    have more, theirs (a prior-led fit, this project's own outcomes fitted on in both). All
    read up to the fit's checkpoint, so a resumed fit tests on the same outcomes."""
    mine = point.get("own_relabels", 0)
    own = [record.cells(up_to=point["own"], project=project, relabels=mine, fold=f) for f in (0, 1)]
    n_own = sum(c.total for half in own for c in half)
    enough = 2 * settings.min_outcomes
    if prior is not None and n_own < enough:
        theirs = point.get("prior_relabels", 0)
        other = [
            prior.cells(up_to=point["prior"], other_than=project, relabels=theirs, fold=f)
            for f in (0, 1)
        ]
        if sum(c.total for half in other for c in half) >= enough:
            together = [*own[0], *own[1]]
            return Check(
                folds=[(other[0], [*other[1], *together]), (other[1], [*other[0], *together])]
            )
    rest = (
        prior.cells(
            up_to=point["prior"], other_than=project, relabels=point.get("prior_relabels", 0)
        )
        if prior is not None
        else []
    )
    return Check(folds=[(own[0], own[1]), (own[1], own[0])], prior=rest)
