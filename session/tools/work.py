"""Work tools: run a command, verify a feature, mark it passing, ask for resources, note."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from artifacts.feature_list import load_feature_list, save_feature_list
from artifacts.models import Evidence, digest
from harness.tools import Tool, ToolResult
from runners import Resources
from session.command_text import render_command
from session.context import WorkContext
from session.effects import CommandRan, Marked, Noted, ResourcesGranted, Result, Verified
from session.protected import check_in_place
from session.verify.tools import approved, prove, verify_clean

if TYPE_CHECKING:
    from artifacts.models import Feature


class RunArgs(BaseModel):
    command: str = Field(description="shell command, run in the project root inside the runner")
    timeout_s: float | None = Field(None, gt=0, description="time limit for this command")


class VerifyArgs(BaseModel):
    feature: str = Field(description="feature id, e.g. F003")


class MarkArgs(BaseModel):
    feature: str = Field(description="feature id whose check passed in this session")


class ResourcesArgs(BaseModel):
    memory_mb: int | None = Field(None, gt=0, description="memory limit for the next workloads")
    cpus: float | None = Field(None, gt=0, description="CPU cores")
    timeout_s: float | None = Field(None, gt=0, description="time limit per command")
    reason: str = Field(description="why the workload needs it")


class NoteArgs(BaseModel):
    text: str = Field(min_length=1, description="a line for the progress entry of this session")


def run_command(ctx: WorkContext, args: RunArgs) -> Result:

    resources = ctx.resources
    if args.timeout_s is not None:
        base = resources or Resources()
        resources = base.model_copy(update={"timeout_s": args.timeout_s})
    result = ctx.bounded(
        resources, lambda given: ctx.runner.run(args.command, resources=given, phase="agent")
    )
    return ToolResult(
        status="ok" if result.failure is None else "error",
        output=render_command(result),
        effects=[
            CommandRan(command=args.command, exit_code=result.exit_code, failure=result.failure)
        ],
    )


def verify_feature(ctx: WorkContext, args: VerifyArgs) -> Result:

    features = {f.id: f for f in load_feature_list(ctx.root).features}
    feature = features.get(args.feature)
    if feature is None:
        return ToolResult.error(f"no feature {args.feature!r} in feature_list.json")
    if not feature.check:
        return ToolResult.error(
            f"{feature.id} has no automated check; marking it passing needs a human's approval"
        )
    if ctx.verifier is not None:
        return verify_clean(ctx, feature)
    return _verify_in_place(ctx, feature)


def _verify_in_place(ctx: WorkContext, feature: Feature) -> Result:
    """The check in the work tree: the way without a verifier (unit tests of other parts)."""

    check = str(feature.check)
    # The check runs against the protected paths as committed, never a weakened copy.
    result, restored = check_in_place(ctx, check)
    if result.failure is not None or result.exit_code is None:
        return ToolResult(status="error", output=render_command(result))
    note = ""
    if restored:
        note = f"POLICY: protected paths were changed and restored from HEAD first: {restored}\n"
    verdict = "PASSES" if result.exit_code == 0 else "FAILS"
    return ToolResult(
        output=f"{note}{feature.id} {verdict}\n{render_command(result)}",
        effects=[
            Verified(
                feature=feature.id,
                command=check,
                exit_code=result.exit_code,
                output_digest=digest(f"{result.exit_code}\n{result.stdout}\n{result.stderr}"),
                at=datetime.now(UTC).isoformat(),
            )
        ],
    )


def mark_passing(ctx: WorkContext, args: MarkArgs) -> Result:
    """Mark a feature passing on the evidence of its check, run in this session (and, with
    a verifier, the proofs: after, before, review)."""

    feature = load_feature_list(ctx.root).get(args.feature)
    if feature is None:
        return ToolResult.error(f"no feature {args.feature!r} in feature_list.json")
    if not feature.check:
        return ToolResult.error(
            f"{args.feature} has no automated check; only a human's approval can mark it "
            "passing (the policy gate asks for one)"
        )
    verification = ctx.verifications.get(args.feature)
    if verification is None:
        return ToolResult.error(
            f"no verification of {args.feature} in this session; call verify_feature first"
        )
    if verification.exit_code != 0:
        return ToolResult.error(
            f"the last check of {args.feature} in this session failed "
            f"(exit {verification.exit_code}); fix it and verify again"
        )
    if ctx.verifier is not None:
        found = prove(ctx, feature, verification)
        if isinstance(found, ToolResult):
            return found  # not proven: the reason, as the model reads it
        evidence = found
    else:
        evidence = verification.evidence(ctx.session)
    current = load_feature_list(ctx.root)
    updated = current.model_copy(deep=True)
    for listed in updated.features:
        if listed.id == args.feature:
            if listed.passes and listed.evidence == evidence:
                return ToolResult(output=f"{args.feature} is already passing with this evidence")
            listed.passes = True
            listed.evidence = evidence
    save_feature_list(ctx.root, updated)
    proofs = ", ".join(evidence.proofs())
    return ToolResult(
        output=f"{args.feature} marked passing ({evidence.verification}; proofs: {proofs})",
        effects=[Marked(feature=args.feature, evidence=evidence)],
    )


def mark_approved(ctx: WorkContext, args: MarkArgs, approval: str) -> Result:
    """mark_passing approved by a human (question `approval`): a feature without an
    automated check passes on that recorded approval; one whose check passed before the
    session too passes on its clean check and that approval; any other still needs its
    proofs."""

    feature_id = args.feature
    found = load_feature_list(ctx.root).get(feature_id)
    if found is None:
        return mark_passing(ctx, args)
    if found.check:
        stood_in = approved(ctx, found, approval)
        if stood_in is None:
            return mark_passing(ctx, args)
        if not isinstance(stood_in, Evidence):
            return stood_in
        evidence = stood_in
    else:
        evidence = Evidence(
            verification=f"human:{approval}",
            at=datetime.now(UTC),
            exit_code=0,
            output_digest=digest(f"approved by a human in question {approval}"),
            session=ctx.session,
        )
    updated = load_feature_list(ctx.root).model_copy(deep=True)
    for feature in updated.features:
        if feature.id == feature_id and not feature.passes:
            feature.passes = True
            feature.evidence = evidence
    save_feature_list(ctx.root, updated)
    return ToolResult(
        output=f"{feature_id} marked passing on a human's approval ({approval})",
        effects=[Marked(feature=feature_id, evidence=evidence)],
    )


def request_resources(ctx: WorkContext, args: ResourcesArgs) -> Result:
    """More resources, up to the configured maxima."""
    return _grant(ctx, args, approved=False)


def request_approved(ctx: WorkContext, args: ResourcesArgs, approval: str) -> Result:
    """request_resources approved by a human: the maxima do not apply."""
    return _grant(ctx, args, approved=True)


def _grant(ctx: WorkContext, args: ResourcesArgs, *, approved: bool) -> Result:

    current = ctx.resources or Resources()
    limits = ctx.max_resources
    wanted = {
        key: value
        for key, value in (
            ("memory_mb", args.memory_mb),
            ("cpus", args.cpus),
            ("timeout_s", args.timeout_s),
        )
        if value is not None
    }
    if limits is not None and not approved:
        over = [key for key, value in wanted.items() if value > getattr(limits, key)]
        if over:
            maxima = ", ".join(f"{key} <= {getattr(limits, key)}" for key in over)
            return ToolResult.denied(
                f"POLICY: the request exceeds the configured maxima ({maxima}); it needs a "
                "human's approval (ask_human), do not retry it as is"
            )
    granted = current.model_copy(update=wanted)
    moved = ""
    if ctx.placement is not None:  # a fleet: the run's class must give it, or a bigger one
        amounts = {k: float(v) for k, v in granted.model_dump().items() if k in _PLACED}
        allowed, moved = ctx.placement.place(amounts)
        if not allowed:
            return ToolResult.denied(f"POLICY: {moved}")
    return ToolResult(
        output=f"granted for the next workloads: {granted.model_dump()}"
        + (f"; {moved}" if moved else ""),
        effects=[ResourcesGranted(resources=granted)],
    )


_PLACED = ("memory_mb", "cpus", "timeout_s", "gpus")  # what a resource class bounds


def note(ctx: WorkContext, args: NoteArgs) -> Result:
    return ToolResult(output="noted", effects=[Noted(text=args.text.strip())])


WORK_TOOLS: list[Tool[WorkContext]] = [
    Tool("run", "Run a shell command in the project through the runner.", RunArgs, run_command),
    Tool(
        "verify_feature",
        "Run a feature's check on a clean checkout of what this session would commit, in a "
        "fresh sandbox; the harness records the result as evidence.",
        VerifyArgs,
        verify_feature,
    ),
    Tool(
        "mark_passing",
        "Mark a feature passing; accepted only after its check passed in this session, and "
        "when the same check fails on the tree the session started from (and an independent "
        "evaluator agrees, where one reviews).",
        MarkArgs,
        mark_passing,
        approved=mark_approved,
    ),
    Tool(
        "request_resources",
        "Ask for more memory, CPUs or time for the next commands (after an OOM or timeout).",
        ResourcesArgs,
        request_resources,
        approved=request_approved,
    ),
    Tool("note", "Add a line to this session's progress entry.", NoteArgs, note),
]
