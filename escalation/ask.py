"""``ask_human``: file a durable question, then wait for the answer or park the run.

Interactive runs wait (polling the store; a read costs microseconds). Unattended runs
(``--unattended``, CI, or no TTY on stdin) get a "parked" result at once, and the session
exits with ``ExitCode.WAITING``. Asking again with the same key (the replay on the
next run) finds the same question and returns its answer at once if it has one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TextIO

from pydantic import BaseModel

from escalation.gates import Action, GateDecision, Gates, approval_text, render_denial
from escalation.questions import Kind, Question, QuestionStore, Scores
from harness.errors import Parked
from harness.events import Event, Events

AskStatus = Literal["answered", "approved", "denied", "parked", "timeout"]


class AskResult(BaseModel):
    """What ``ask_human`` came back with."""

    status: AskStatus
    question: Question

    @property
    def parked(self) -> bool:
        """No answer yet: park the run (exit WAITING)."""
        return self.status in ("parked", "timeout")

    def raise_if_parked(self) -> None:
        """No answer yet: raise `Parked` (the step stays in flight, the run parks, exit 4)."""
        if self.parked:
            q = self.question
            how = (
                f"Approve it with `harness approve {q.id}` or deny it with `harness deny {q.id}`"
                if q.kind == "approval"
                else f"Answer it with `harness answer {q.id} ...`"
            )
            raise Parked(q.id, f"{q.text} ({q.kind}). {how}, then `harness run` goes on from here.")

    def text_for_model(self) -> str:
        """The tool output the model reads."""
        q = self.question
        if self.status == "answered":
            lines = [f"The human answered {q.id}: {q.answer}"]
            if q.choice is not None:
                lines.append(f"(choice {q.choice + 1} of {len(q.choices)})")
            if q.files:
                lines.append("Files the human attached, now in the project: " + ", ".join(q.files))
            return "\n".join(lines)
        if self.status == "approved":
            return f"Approved by a human ({q.id}). Go ahead with the action."
        if self.status == "denied":
            return (
                f"POLICY DENIAL (this is not an error or a failure): a human denied {q.id}. "
                f"Reason: {q.deny_reason or 'none given'}. Do not retry the action or a "
                "variant of it; choose another way to reach the goal."
            )
        return f"{q.id} is waiting for a human; the run parks until it is answered."


def is_unattended(
    flag: bool, *, env: Mapping[str, str] | None = None, stdin: TextIO | None = None
) -> bool:
    """True with ``--unattended``, under CI (env ``CI`` set), or when stdin is not a TTY."""
    environ = os.environ if env is None else env
    if flag or environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return True
    stream = sys.stdin if stdin is None else stdin
    try:
        return stream is None or not stream.isatty()
    except (ValueError, OSError):  # closed or detached stdin
        return True


def question_key(
    kind: str,
    topic: str,
    text: str,
    context: str,
    choices: Sequence[str],
    run: str | None,
    session: int | None,
) -> str:
    """The default idempotency key: a digest of what is asked, where."""
    payload = json.dumps([kind, topic, text, context, list(choices), run, session])
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()[:32]


def _status(question: Question) -> AskStatus:
    return "parked" if question.status == "pending" else question.status


def ask_human(
    store: QuestionStore,
    text: str,
    *,
    interactive: bool,
    kind: Kind = "question",
    context: str = "",
    choices: Sequence[str] = (),
    scores: Scores | None = None,
    reason: str = "",
    topic: str = "ask_human",
    step_ref: str | None = None,
    session: int | None = None,
    run: str | None = None,
    key: str | None = None,
    wait_timeout: float | None = None,
    poll_s: float = 0.2,
    on_wait: Callable[[Question], None] | None = None,
    events: Events | None = None,
) -> AskResult:
    """Ask a human durably; wait for the answer when interactive, else park.

    Args:
        store: the project's question store.
        text: the question (for an approval: what is to be approved).
        interactive: wait for the answer (pass ``not is_unattended(flag)``).
        kind: "question", or "approval" for a gated action (approve/deny).
        key: idempotency key; default ``step_ref`` if given, else a digest of the question,
            run and session. The same key finds the same question on replay.
        wait_timeout: stop waiting after this many seconds ("timeout": park).
        on_wait: called once with the question before waiting (e.g. to print it).
        events: the run's observers, told that the question waits (or parks the run).

    Returns:
        An ``AskResult``: answered/approved/denied, or parked/timeout (no answer yet).
    """
    if key is None:
        key = step_ref or question_key(kind, topic, text, context, choices, run, session)
    question = store.ask(
        kind,
        text,
        context,
        choices,
        scores,
        step_ref,
        reason=reason,
        topic=topic,
        session=session,
        run=run,
        key=key,
    )
    if question.pending and events is not None and events.active:
        _tell(events, question, interactive, wait_timeout)
    if not question.pending or not interactive:
        return AskResult(status=_status(question), question=question)
    if on_wait is not None:
        on_wait(question)
    deadline = None if wait_timeout is None else time.monotonic() + wait_timeout
    while True:
        question = store.get(question.id)
        if not question.pending:
            return AskResult(status=_status(question), question=question)
        if deadline is not None and time.monotonic() >= deadline:
            return AskResult(status="timeout", question=question)
        time.sleep(poll_s)


def _tell(events: Events, question: Question, waiting: bool, wait_timeout: float | None) -> None:
    """Tell whoever watches the run (progress lines, `--json`) that a human is needed."""
    until = None if wait_timeout is None or not waiting else time.time() + wait_timeout
    how = "waits for the answer" if waiting else "the run parks until it is answered"
    events.emit(
        Event(
            "question",
            run_id=question.run or "",
            session=question.session,
            status="waiting" if waiting else "parked",
            detail=f"{question.id} ({question.kind}): {question.text}; {how}",
            until=until,
            data={
                "id": question.id,
                "kind": question.kind,
                "text": question.text,
                "choices": list(question.choices),
            },
        )
    )


class GateOutcome(BaseModel):
    """A gated action after the gates (and, if asked, the human) had their say."""

    allowed: bool
    """Run the action."""
    parked: bool = False
    """An approval is pending and nobody can answer now: park the run."""
    denial: str | None = None
    """The policy-denial text for the model when the action is denied."""
    decision: GateDecision
    result: AskResult | None = None


def gate_action(
    gates: Gates,
    store: QuestionStore,
    action: Action,
    *,
    interactive: bool,
    step_ref: str | None = None,
    session: int | None = None,
    run: str | None = None,
    wait_timeout: float | None = None,
    on_wait: Callable[[Question], None] | None = None,
    events: Events | None = None,
) -> GateOutcome:
    """Check ``action``; an "ask" becomes an approval question, a "deny" a denial text."""
    decision = gates.check(action)
    if decision.verdict == "allow":
        return GateOutcome(allowed=True, decision=decision)
    if decision.verdict == "deny":
        text = render_denial(action, decision.reason, by="policy")
        return GateOutcome(allowed=False, denial=text, decision=decision)
    result = ask_human(
        store,
        approval_text(action, decision),
        interactive=interactive,
        kind="approval",
        context=action.model_dump_json(),
        reason=decision.reason,
        topic=f"gate:{decision.gate}",
        step_ref=step_ref,
        session=session,
        run=run,
        wait_timeout=wait_timeout,
        on_wait=on_wait,
        events=events,
    )
    if result.status == "approved":
        return GateOutcome(allowed=True, decision=decision, result=result)
    if result.status == "denied":
        reason = result.question.deny_reason or "denied by a human"
        text = render_denial(action, reason, by="human")
        return GateOutcome(allowed=False, denial=text, decision=decision, result=result)
    return GateOutcome(allowed=False, parked=True, decision=decision, result=result)
