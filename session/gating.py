"""Escalation in the session: policy gates on tool calls, `ask_human`, and the matrix.

A gated call or a question without an answer raises `Parked` inside its step, which the
journal leaves in flight: the next `harness run` runs the step again, finds the answer in
the question store (keyed by the step's journal reference) and goes on from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from harness.tools import Tool, ToolResult
from session.context import WorkContext
from session.effects import Asked, Result

if TYPE_CHECKING:
    from escalation import Decision, Escalation
    from harness.journal.protocol import StepJournal


@dataclass(frozen=True)
class GateVerdict:
    """What the gates said of one call: go ahead (approved by a human or not), or refused."""

    approved_by: str | None = None
    denial: Result | None = None


def announce(question: Any) -> None:
    """Tell the person at the terminal that the run waits for them, and how to answer."""
    import sys

    from harness.terminal import for_terminal

    choices = "".join(
        f"\n  {i}. {for_terminal(c, one_line=True)}"
        for i, c in enumerate(question.choices, start=1)
    )
    print(
        f"harness: waiting for a human: {question.id} ({question.kind}): "
        f"{for_terminal(question.text)}"
        f"{choices}\n  answer with `harness answer {question.id} TEXT` (or --choice N), "
        f"`harness approve/deny {question.id}`, or in `harness tui`",
        file=sys.stderr,
        flush=True,
    )


def _action(ctx: WorkContext, name: str, args: dict[str, Any]) -> Any:
    from escalation import Action

    facts: dict[str, Any] = {"workspace_root": str(ctx.root)}
    if name == "mark_passing" and ctx.feature is not None:
        from artifacts.feature_list import load_feature_list

        feature = load_feature_list(ctx.root).get(str(args.get("feature", "")))
        facts["feature_has_check"] = bool(feature and feature.check)
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
    from escalation import gate_action

    outcome = gate_action(
        escalation.gates,
        escalation.store,
        _action(ctx, name, args.model_dump()),
        interactive=escalation.interactive,
        step_ref=step_ref,
        session=ctx.session,
        run=escalation.run_id,
        on_wait=announce,
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
        None, ge=0, le=1, description="how sure you are of your own best guess (0..1)"
    )


def ask_human_tool(ctx: WorkContext, args: AskArgs) -> Result:
    from escalation import Situation, ask_human

    escalation = ctx.gates
    if escalation is None:
        return ToolResult.error("no human is configured for this run")
    ref = ctx.pipeline.step_ref() if ctx.pipeline is not None else None
    existing = escalation.store.find(ref) if ref else None
    decision: Decision | None = None
    if existing is None:
        if escalation.asked(ctx.session) >= escalation.max_questions:
            return ToolResult.denied(
                f"POLICY: this session has asked its {escalation.max_questions} questions "
                "(escalation.max_questions_per_session); decide yourself and note it"
            )
        decision = escalation.matrix.decide(
            Situation(
                text=f"{args.question}\n{args.context}",
                confidence=args.confidence,
                session=ctx.session,
                run=escalation.run_id,
            )
        )
    result = ask_human(
        escalation.store,
        args.question,
        interactive=escalation.interactive,
        context=args.context,
        choices=args.choices,
        scores=decision.scores() if decision is not None else None,
        reason="the agent asked" + (f" ({decision.reason})" if decision else ""),
        step_ref=ref,
        session=ctx.session,
        run=escalation.run_id,
        on_wait=announce,
        events=escalation.events,
    )
    result.raise_if_parked()
    return ToolResult(
        output=result.text_for_model(),
        effects=[Asked(question=result.question.id, status=result.status)],
    )


ASK_TOOL: Tool[WorkContext] = Tool(
    "ask_human",
    "Ask a human a question when their answer would change what you do; the run may pause.",
    AskArgs,
    ask_human_tool,
)


def consult(
    escalation: Escalation, ctx: WorkContext, journal: StepJournal, text: str
) -> str | None:
    """Score the model's reasoning; above the threshold, ask a human on its behalf.

    Both the decision (with its three scores) and the answer are journaled steps, so a
    resumed session replays them exactly.
    """
    from escalation import Decision, Situation, ask_human

    situation = Situation(
        topic="turn", text=text[:4000], session=ctx.session, run=escalation.run_id
    )
    decision = journal.step(
        "escalation",
        "matrix",
        {"text": text[:4000]},
        lambda: escalation.matrix.decide(situation, questions_asked=escalation.asked(ctx.session)),
        output=Decision,
    )
    if not decision.escalate:
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
            on_wait=announce,
            events=escalation.events,
        )
        result.raise_if_parked()
        return result.text_for_model()

    answer = journal.step("human", "consult", {"scores": decision.scores().model_dump()}, ask)
    return (
        f"The harness consulted a human because its escalation score was {decision.total:.2f} "
        f"(uncertainty {decision.uncertainty:.2f}, novelty {decision.novelty:.2f}, "
        f"benefit {decision.benefit:.2f}). {answer}"
    )
