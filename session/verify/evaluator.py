"""The independent evaluator: a fresh model session that reviews a feature before it passes.

It starts from nothing but the feature (description, steps, check), the session's diff and
the output of the check on a clean checkout (its own prompt, `templates/prompts/evaluator_*`,
and optionally its own model, ``[evaluator] model``). It may run commands in a fresh sandbox
on its own copy of that clean checkout (:class:`session.verify.clean.Checkout`, without the
hidden paths: nothing it saw of them could reach the worker through its reasons), and
answers through the ``verdict`` tool: passed or not, with reasons.

Each model call and each command is a journaled step nested in the ``mark_passing`` step
that asked for the review, then the verdict is one more step (``evaluator/verdict:<id>``),
the one the evidence cites. A crash mid-evaluation resumes it: the finished calls replay
(nothing is paid twice) and the review goes on from there. It is bounded by ``[evaluator]``
``max_steps``, ``max_tokens`` and ``max_dollars``; an answer without a verdict (prose, a
malformed call) gets one reminder, and no verdict within the budget is a failing one
("no verdict"): a feature passes only on a verdict that says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from harness.model import ModelResponse, Usage
from harness.redact import Redactor
from harness.tools import Tool, ToolRegistry, ToolResult
from runners import Resources
from session.command_text import render_command
from session.prompt import render

if TYPE_CHECKING:
    from artifacts.config import EvaluatorConfig
    from artifacts.models import Feature
    from harness.journal.protocol import StepJournal
    from harness.model import Accounting, Model
    from session.verify.clean import Checkout

DIFF_CHARS = 40_000
OUTPUT_CHARS = 6_000
REMINDER = (
    "[harness] Answer by calling `verdict` (passed: true or false, reasons: what you found). "
    "Without a verdict the feature stays failing."
)


class Verdict(BaseModel):
    """What an evaluation concluded (the ``evaluator/verdict:<id>`` step's output)."""

    feature: str
    passed: bool
    reasons: str
    model: str
    tree: str
    given: bool = True
    """False when the evaluator gave no valid verdict (budget, prose, malformed calls)."""
    steps: int = 0
    spent: Usage = Field(default_factory=Usage)
    """What the evaluation's model calls cost (already counted on their own steps)."""


class RunArgs(BaseModel):
    command: str = Field(description="shell command, run in a fresh sandbox on the checkout")


class VerdictArgs(BaseModel):
    passed: bool = Field(description="true: the feature is really done; false: it is not")
    reasons: str = Field(min_length=1, description="what you found, in short sentences")


@dataclass
class Review:
    """What the evaluator's tools see: its checkout (made at its first command)."""

    open_checkout: Any  # () -> Checkout
    timeout_s: float
    checkout: Checkout | None = None
    verdict: VerdictArgs | None = None
    ran: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.checkout is not None:
            self.checkout.__exit__(None, None, None)
            self.checkout = None


def _run(review: Review, args: RunArgs) -> ToolResult[Any]:

    if review.checkout is None:
        review.checkout = review.open_checkout().__enter__()
    resources = (review.checkout.resources or Resources()).model_copy(
        update={"timeout_s": review.timeout_s}
    )
    done = review.checkout.run(args.command, resources=resources)
    text = render_command(done.result())
    if done.problems or (done.setup is not None and not done.setup.ok):
        text += f"\nnote: the checkout is not usable: {done.why()}"
    return ToolResult(output=text)


def _verdict(review: Review, args: VerdictArgs) -> ToolResult[Any]:
    review.verdict = args
    return ToolResult(output="verdict recorded")


TOOLS: ToolRegistry[Review] = ToolRegistry(
    [
        Tool("run", "Run a shell command on your copy of the clean checkout.", RunArgs, _run),
        Tool("verdict", "Give your verdict on the feature (once).", VerdictArgs, _verdict),
    ]
)


@dataclass
class Evaluator:
    """Runs evaluations with one model under ``[evaluator]``'s budgets."""

    model: Model
    model_name: str
    config: EvaluatorConfig
    accounting: Accounting | None = None
    runner_name: str = "runner"
    redactor: Redactor | None = None
    """The run's: what the evaluator is sent passes through it (default: this process's
    environment's secrets)."""

    def evaluate(
        self,
        journal: StepJournal,
        feature: Feature,
        *,
        tree: str,
        check_output: str,
        diff: str,
        hidden_note: str,
        open_checkout: Any,
    ) -> tuple[Verdict, str]:
        """The verdict on ``feature`` (and the journal reference of its step)."""
        messages = self._kickoff(feature, check_output, diff, hidden_note)
        review = Review(open_checkout=open_checkout, timeout_s=self.config.command_timeout_s)
        try:
            verdict = self._loop(journal, feature, tree, messages, review)
        finally:
            review.close()
        recorded: Verdict = journal.step(
            "evaluator",
            f"verdict:{feature.id}",
            {"feature": feature.id, "tree": tree, "model": self.model_name},
            lambda: verdict,
            output=Verdict,
        )
        return recorded, journal.ref(journal.last_seq)

    def _kickoff(
        self, feature: Feature, check_output: str, diff: str, hidden_note: str
    ) -> list[dict[str, Any]]:

        kickoff = render(
            "evaluator_kickoff",
            feature_id=feature.id,
            feature_description=feature.description,
            feature_category=feature.category,
            feature_steps="\n".join(f"{i}. {s}" for i, s in enumerate(feature.steps, 1)) or "-",
            feature_check=feature.check or "(none)",
            check_output=check_output[-OUTPUT_CHARS:],
            diff=diff or "(no change to any committed file)",
            hidden=hidden_note,
        )
        return [
            {"role": "system", "content": render("evaluator_system", runner=self.runner_name)},
            {"role": "user", "content": kickoff},
        ]

    def _loop(
        self,
        journal: StepJournal,
        feature: Feature,
        tree: str,
        messages: list[dict[str, Any]],
        review: Review,
    ) -> Verdict:

        redactor = self.redactor or Redactor()
        used, steps, reminded, sent = Usage(), 0, False, 0

        def ends(reasons: str) -> Verdict:
            return Verdict(
                feature=feature.id,
                passed=False,
                reasons=reasons,
                model=self.model_name,
                tree=tree,
                given=False,
                steps=steps,
                spent=used,
            )

        while True:
            over = self._over(steps, used)
            if over:
                return ends(f"the evaluator gave no verdict within its budget ({over})")
            messages[sent:] = redactor.structure(messages[sent:])
            snapshot = list(messages)
            response = self._complete(journal, snapshot, sent)
            steps, sent = steps + 1, len(snapshot)
            used = used + response.usage
            if self.accounting is not None:
                self.accounting.add(response.usage, estimated=response.estimated_usage)
            messages.append(response.message())
            if not response.tool_calls:
                if reminded:
                    return ends("the evaluator answered without a verdict")
                reminded = True
                messages.append({"role": "user", "content": REMINDER})
                continue
            for call in response.tool_calls:
                over = self._over(steps, used)
                if over:
                    return ends(f"the evaluator gave no verdict within its budget ({over})")
                result = self._call(journal, review, call.id, call.name, call.arguments)
                steps += 1
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
                if review.verdict is not None:
                    given = review.verdict
                    return Verdict(
                        feature=feature.id,
                        passed=given.passed,
                        reasons=given.reasons.strip(),
                        model=self.model_name,
                        tree=tree,
                        steps=steps,
                        spent=used,
                    )

    def _complete(
        self, journal: StepJournal, snapshot: list[dict[str, Any]], sent: int
    ) -> ModelResponse:
        response: ModelResponse = journal.step(
            "llm",
            f"evaluator:{self.model_name}",
            {"new_messages": snapshot[sent:], "message_count": len(snapshot)},
            lambda: self.model.complete(snapshot, TOOLS.schemas()),
            output=ModelResponse,
        )
        return response

    def _call(
        self, journal: StepJournal, review: Review, call_id: str, name: str, arguments: str
    ) -> str:
        """One tool call of the evaluator, as a journaled step (a replayed verdict call is
        applied again: the review is rebuilt from the record)."""

        def live() -> ToolResult[Any]:
            parsed = TOOLS.parse(name, arguments)
            if isinstance(parsed, ToolResult):
                return parsed
            return TOOLS.invoke(name, parsed, review)

        result: ToolResult[Any] = journal.step(
            "evaluator",
            name,
            {"id": call_id, "arguments": arguments},
            live,
            output=ToolResult[Any],
        )
        if name == "verdict" and result.status == "ok" and review.verdict is None:
            parsed = TOOLS.parse(name, arguments)
            if isinstance(parsed, VerdictArgs):
                review.verdict = parsed
        return result.output

    def _over(self, steps: int, used: Usage) -> str:
        config = self.config
        if steps >= config.max_steps:
            return f"[evaluator] max_steps = {config.max_steps}"
        if config.max_tokens is not None and used.total_tokens >= config.max_tokens:
            return f"[evaluator] max_tokens = {config.max_tokens}"
        if config.max_dollars is not None and used.cost_usd >= config.max_dollars:
            return f"[evaluator] max_dollars = {config.max_dollars}"
        return ""
