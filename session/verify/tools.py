"""verify_feature and mark_passing with a verifier: checks on clean checkouts and proofs.

The tools in `session/tools/work.py` call these when the session has a verifier (every
working session does): verify_feature runs the check on a clean checkout of what the
session would commit, in a fresh sandbox, and when it fails there runs it in the work tree
too, to say what the check depends on that the commit does not hold; mark_passing asks
:meth:`session.verify.verifier.Verifier.prove` for the evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from artifacts.git_safety import run_git
from harness.tools import ToolResult
from session.command_text import render_command
from session.context import WorkContext
from session.effects import Effect, NotProven, Result, Verified
from session.protected import check_in_place
from session.verify.trees import under
from session.verify.verifier import _shown

if TYPE_CHECKING:
    from artifacts.models import Evidence, Feature
    from session.verify.clean import CleanRun
    from session.verify.trees import Planned

LISTED = 8


def verify_clean(ctx: WorkContext, feature: Feature) -> Result:
    """The check on a clean checkout of the session's tree, in a fresh sandbox."""

    verifier = ctx.verifier
    assert verifier is not None
    check = str(feature.check)
    tree, planned = verifier.tree_now()
    run = ctx.bounded(ctx.resources, lambda given: verifier.check(check, tree, given))
    where = (
        "on a clean checkout of what this session would commit, in a fresh sandbox"
        if verifier.sandboxed
        else "on a clean checkout of what this session would commit (the local runner: "
        "not a sandbox)"
    )
    shown = render_command(run.result())
    if planned.protected:  # the agent's changes to them are in no commit and no check
        shown = (
            "POLICY: protected paths were changed; the check ran with them as HEAD has them, "
            f"and they are restored from HEAD before any check in the work tree: "
            f"{', '.join(planned.protected[:LISTED])}\n{shown}"
        )
    if run.passed:
        return ToolResult(
            output=f"{feature.id} PASSES {where}\n{shown}",
            effects=[_verified(feature, run)],
        )
    if run.exit_code is None and not run.problems and (run.setup is None or run.setup.ok):
        return ToolResult(status="error", output=f"{feature.id}: the check did not end\n{shown}")
    text = f"{feature.id} FAILS {where}: {run.why()}\n{shown}"
    if run.setup is not None and not run.setup.ok:
        text += f"\n--- init.sh on the clean checkout ---\n{run.setup.tail.rstrip()}"
    text += _in_place(ctx, check, planned)
    effects: list[Effect] = [_verified(feature, run)] if run.exit_code is not None else []
    return ToolResult(output=text, effects=effects)


def _verified(feature: Feature, run: CleanRun) -> Verified:

    return Verified(
        feature=feature.id,
        command=str(feature.check),
        exit_code=run.exit_code if run.exit_code is not None else -1,
        output_digest=run.output_digest,
        at=datetime.now(UTC).isoformat(),
        tree=run.tree,
        tail=_shown(run)[-4_000:],
    )


def _in_place(ctx: WorkContext, check: str, planned: Planned) -> str:
    """The check in the work tree: passing there, it depends on something the commit does
    not hold; said with the candidates (what is left out of the commit, ignored files)."""
    result, _ = check_in_place(ctx, check)
    if not result.ok:
        return "\n(It fails in your work tree too.)"

    outside = [e.path for e in planned.excluded]
    outside += [p for p in ctx.user_files if not under(p, ctx.hidden)]
    ignored = _ignored(ctx)
    lines = [
        "\nIt PASSES in your work tree: it depends on something the session's commit does not "
        "hold. What the commit leaves out is not there on a clean checkout:"
    ]
    if outside:
        lines.append("- left out of the commit: " + ", ".join(outside[:LISTED]))
    if ignored:
        lines.append("- git-ignored (never committed): " + ", ".join(ignored[:LISTED]))
    lines.append("- anything outside the project your commands left ($HOME, /tmp), and processes")
    return "\n".join(lines)


def _ignored(ctx: WorkContext) -> list[str]:

    checks = ctx.verifier.checks if ctx.verifier is not None else None
    out = run_git(
        ctx.root,
        "status",
        "--porcelain=v1",
        "-z",
        "--ignored=matching",
        "--untracked-files=normal",
        check=False,
        checks=checks,
    ).stdout
    found = []
    for record in out.split(b"\0"):
        if record.startswith(b"!! "):
            path = record[3:].decode("utf-8", "replace")
            if not path.startswith(".harness") and path.rstrip("/") not in ctx.hidden:
                found.append(path)
    return found


def prove(ctx: WorkContext, feature: Feature, verified: Verified) -> Evidence | Result:
    """The evidence for ``feature`` (after, before, review), or the refusal the model reads."""
    verifier = ctx.verifier
    assert verifier is not None and ctx.door is not None
    proven = verifier.prove(ctx.door.journal, feature, verified, ctx.resources)
    if proven.evidence is None:
        return ToolResult(
            status="error",
            output=f"error: {feature.id} was not marked passing: {proven.reason}",
            effects=[
                NotProven(
                    feature=feature.id,
                    reason=proven.reason,
                    undistinguished=proven.undistinguished,
                )
            ],
        )
    return proven.evidence.model_copy(update={"session": ctx.session})


def approved(ctx: WorkContext, feature: Feature, approval: str) -> Evidence | Result | None:
    """mark_passing approved by a human for a feature whose check passed before the
    session too: it passes on the clean check of this session plus that approval (None:
    no such case here)."""
    if feature.id not in ctx.undistinguished:
        return None
    verified = ctx.verifications.get(feature.id)
    if verified is None or verified.exit_code != 0 or not verified.tree:
        return ToolResult.error(
            f"{feature.id}: the approval stands in for the 'before' proof only; its check must "
            "still pass on a clean checkout: call verify_feature, then mark_passing"
        )
    return verified.evidence(ctx.session).model_copy(
        update={"tree": verified.tree, "approval": f"human:{approval}"}
    )
