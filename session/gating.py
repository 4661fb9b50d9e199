"""Escalation in the session: policy gates on tool calls, `ask_human`, and the matrix.

A gated call or a question without an answer raises `Parked` inside its step, which the
journal leaves in flight: the next `harness run` runs the step again, finds the answer in
the question store (keyed by the step's journal reference) and goes on from there.

Every decision of the matrix joins the session's trace (`WorkContext.trace`): `consult`
adds it directly, `ask_human` through its `Considered` effect, so a replayed session
rebuilds the same trace and its writeback settles the same outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from artifacts.feature_list import load_feature_list
from escalation import Action, Decision, Scores, Situation, ask_human, gate_action
from escalation.matrix import UNSTATED_CONFIDENCE
from escalation.trace import Decided, call_signature
from harness.tools import Tool, ToolResult
from session.context import WorkContext
from session.effects import Asked, Considered, Result

if TYPE_CHECKING:
    from escalation import Escalation
    from harness.journal.protocol import StepJournal
    from harness.model import ModelResponse


@dataclass(frozen=True)
class GateVerdict:
    """What the gates said of one call: go ahead (approved by a human or not), or refused."""

    approved_by: str | None = None
    denial: Result | None = None


def _action(ctx: WorkContext, name: str, args: dict[str, Any]) -> Any:

    facts: dict[str, Any] = {"workspace_root": str(ctx.root)}
    if name == "mark_passing" and ctx.feature is not None:
        feature = load_feature_list(ctx.root).get(str(args.get("feature", "")))
        # A check that passed before the session too tells nothing: as without a check,
        # only a human's approval can pass the feature (session.verify.verifier).
        telling = feature is not None and feature.id not in ctx.undistinguished
        facts["feature_has_check"] = bool(feature and feature.check) and telling
    if name == "request_resources":
        requested = {k: float(v) for k, v in args.items() if k != "reason" and v is not None}
        facts["resources"] = requested
        if ctx.max_resources is not None:
            limits = ctx.max_resources.model_dump()
            facts["maxima"] = {k: float(limits[k]) for k in requested if k in limits}
    return Action(tool=name, args=args, **facts)


def apply_gates(
    escalation: Escalation, ctx: WorkContext, name: str, args: BaseModel, step_ref: str
) -> GateVerdict:
    """The gates on one validated call; Parked while an approval is awaited.

    Args:
        step_ref: the journal reference of the call's step (the question's durable key).
    """

    outcome = gate_action(
        escalation.gates,
        escalation.store,
        _action(ctx, name, args.model_dump()),
        interactive=escalation.interactive,
        step_ref=step_ref,
        session=ctx.session,
        run=escalation.run_id,
        events=escalation.events,
    )
    if outcome.allowed:
        approved = outcome.result.question.id if outcome.result is not None else None
        return GateVerdict(approved_by=approved)
    if outcome.parked and outcome.result is not None:
        outcome.result.raise_if_parked()
    return GateVerdict(denial=ToolResult.denied(outcome.denial or "POLICY: denied"))


class AskArgs(BaseModel):
    question: str = Field(min_length=1, description="what you need the human to decide or tell")
    context: str = Field("", description="what you know, what you tried, why it matters")
    choices: list[str] = Field(default_factory=list, description="options, if it is a choice")
    confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="how sure you are of your own best guess (0..1); unstated counts as 0.5",
    )
    default: str | None = Field(
        None, description="what you will do if the human just says go ahead (e.g. a choice)"
    )


def task_type(ctx: WorkContext) -> str:
    """The kind of task the session works on (its feature's category)."""
    return ctx.feature.category if ctx.feature is not None else "-"


def ask_human_tool(ctx: WorkContext, args: AskArgs) -> Result:
    """The agent's question goes to a human when the matrix says a human's answer is worth
    it (the record's threshold, the session's cap); else the agent decides itself."""

    escalation = ctx.gates
    if escalation is None:
        return ToolResult.error("no human is configured for this run")
    ref = ctx.door.step_ref() if ctx.door is not None else None
    existing = escalation.store.find(ref) if ref else None
    text = f"{args.question}\n{args.context}"
    if existing is not None:  # the step runs again (resumed): the question stands
        decision = Decision.of_question(
            existing.topic, existing.scores or Scores(), existing.reason
        )
    else:
        asked = escalation.asked(ctx.session)
        confidence = UNSTATED_CONFIDENCE if args.confidence is None else args.confidence
        situation = Situation(
            text=text, confidence=confidence, task_type=task_type(ctx), session=ctx.session,
            run=escalation.run_id,
        )  # fmt: skip
        decision = escalation.matrix.decide(situation, questions_asked=asked)
        not_asked = None
        if asked >= escalation.max_questions:
            not_asked = (
                f"POLICY: this session has asked its {escalation.max_questions} questions "
                "(escalation.max_questions_per_session); decide yourself and note it"
            )
        elif not decision.escalate:
            not_asked = (
                f"POLICY: not passed on to a human ({decision.reason}). On this project's "
                "record, an answer here is unlikely to change what happens. Decide yourself, "
                "note what you assumed with `note`, and go on."
            )
        if not_asked is not None:
            refused: Result = ToolResult.denied(not_asked)
            seen = Considered(decision=decision, text=text, asked=False, default=args.default)
            return refused.model_copy(update={"effects": [seen]})
    result = ask_human(
        escalation.store,
        args.question,
        interactive=escalation.interactive,
        context=args.context,
        choices=args.choices,
        scores=decision.scores(),
        reason=f"the agent asked; {decision.reason}",
        step_ref=ref,
        session=ctx.session,
        run=escalation.run_id,
        events=escalation.events,
    )
    result.raise_if_parked()
    question = result.question.id
    return ToolResult(
        output=result.text_for_model(),
        effects=[
            Asked(question=question, status=result.status),
            Considered(
                decision=decision, text=text, asked=True, question=question, default=args.default
            ),
        ],
    )


ASK_TOOL: Tool[WorkContext] = Tool(
    "ask_human",
    "Ask a human a question when their answer would change what you do; the run may pause. "
    "The harness passes it on when its record says an answer is worth it.",
    AskArgs,
    ask_human_tool,
)


def stated_confidence(response: ModelResponse) -> float | None:
    """The lowest ``confidence`` (0..1) any tool call of the turn carries in its arguments."""
    found = []
    for call in response.tool_calls:
        try:
            value = json.loads(call.arguments or "{}").get("confidence")
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            found.append(float(value))
    return min(found) if found else None


def sample_signature(response: ModelResponse) -> str:
    """One sample of a turn, as compared for disagreement: its tool calls when it made
    some (name and canonical arguments), else its words."""

    if response.tool_calls:
        return "\n".join(call_signature(c.name, c.arguments) for c in response.tool_calls)
    return " ".join((response.content or "").split())[:2000]


def consult(
    escalation: Escalation,
    ctx: WorkContext,
    journal: StepJournal,
    response: ModelResponse,
    samples: Sequence[str] = (),
) -> str | None:
    """Score the model's turn; above the threshold, ask a human on its behalf.

    Both the decision (with its scores and why) and the answer are journaled steps, so a
    resumed session replays them exactly; the decision joins the session's trace.
    """

    text = (response.content or "")[:4000]
    method: Literal["exact", "embedding"] = "exact" if response.tool_calls else "embedding"
    situation = Situation(
        topic="turn", text=text, confidence=stated_confidence(response), samples=list(samples),
        samples_method=method, task_type=task_type(ctx), session=ctx.session,
        run=escalation.run_id,
    )  # fmt: skip
    decision = journal.step(
        "escalation",
        "matrix",
        {"text": text},
        lambda: escalation.matrix.decide(situation, questions_asked=escalation.asked(ctx.session)),
        output=Decision,
    )
    key = journal.ref(journal.last_seq)
    if not decision.escalate:
        ctx.trace.decided(Decided(key=key, source="turn", text=text, decision=decision))
        return None

    def ask() -> str:
        result = ask_human(
            escalation.store,
            "The agent is unsure how to go on. Its reasoning:\n" + text[:2000],
            interactive=escalation.interactive,
            context=f"feature {ctx.feature.id if ctx.feature else '-'}",
            scores=decision.scores(),
            reason=decision.reason,
            topic="turn",
            step_ref=journal.ref(journal.seq),
            session=ctx.session,
            run=escalation.run_id,
            events=escalation.events,
        )
        result.raise_if_parked()
        return result.text_for_model()

    answer = journal.step("human", "consult", {"scores": decision.scores().model_dump()}, ask)
    question = escalation.store.find(journal.ref(journal.last_seq))
    ctx.trace.decided(
        Decided(
            key=key,
            source="turn",
            text=text,
            decision=decision,
            question=question.id if question is not None else None,
        )
    )
    return (
        f"The harness consulted a human because its escalation score was {decision.total:.2f} "
        f"(uncertainty {decision.uncertainty:.2f}, novelty {decision.novelty:.2f}, "
        f"benefit {decision.benefit:.2f}). {answer}"
    )
