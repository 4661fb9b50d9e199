"""Re-verify adopted features before a run may call itself complete.

`harness adopt` keeps the quickstart's passing entries passing with evidence "adopted,
unverified": nothing the harness ran proves them. Before the first session, each one is
settled as session 0 of the run: a feature with a check has the check run by the harness,
on a clean checkout of HEAD in a fresh sandbox (exit 0: new evidence citing that step;
otherwise it turns failing, for a session to fix);
the features without a check need a human's approval, one question for them all (approve
all, deny all, or approve some with ``harness approve qN --only F001..F010``): approved,
evidence citing the answer; denied, they turn failing. Unattended, the approval parks the
run until answered. The result is committed (feature_list.json only) with a
`Harness-Reverify` trailer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from artifacts.feature_list import load_feature_list, save_feature_list
from artifacts.git import GitRepo
from artifacts.git_tree import head_sha, tree_of
from artifacts.models import ADOPTED, Evidence, digest
from escalation import ask_human
from session.protected_tree import CHECK_ENV
from session.verify.clean import Checkout
from session.verify.hidden import snapshot

if TYPE_CHECKING:
    from artifacts.models import Feature
    from harness.journal.protocol import StepJournal
    from session.env import SessionEnv

SESSION = 0
TRAILER = "Harness-Reverify"


def adopted_unverified(env: SessionEnv) -> list[Feature]:

    features = load_feature_list(env.root).features
    return [f for f in features if f.passes and f.evidence and f.evidence.verification == ADOPTED]


def reverify_adopted(env: SessionEnv) -> dict[str, str]:
    """Settle every adopted-unverified feature; returns feature id -> "verified" | "failing".

    The features with a check have it run, one step each; those without are one approval
    for them all (approve all, deny all, or approve some: ``harness approve qN --only``).
    Raises Parked while that approval is awaited (the step stays in flight).
    """
    pending = adopted_unverified(env)
    if not pending:
        return {}
    journal = env.run.session(SESSION, {"purpose": "re-verify adopted features"})
    verdicts: dict[str, dict[str, Any]] = {}
    for feature in pending:
        if feature.check:
            verdicts[feature.id] = _run_check(env, journal, feature)
    unchecked = [f for f in pending if not f.check]
    if unchecked:
        verdicts.update(_ask_approval(env, journal, unchecked))
    _apply(env, verdicts)
    sha = _commit(env, journal, verdicts)
    summary = {fid: v["verdict"] for fid, v in verdicts.items()}
    journal.close("reverified", {"features": summary, "commit": sha})
    return summary


def _run_check(env: SessionEnv, journal: StepJournal, feature: Feature) -> dict[str, Any]:

    check = str(feature.check)

    def run() -> dict[str, Any]:
        if env.check_runners is not None:
            return _run_clean(env, check)
        result = env.runner.run(check, resources=env.resources, phase="agent", env=CHECK_ENV)
        text = f"{result.exit_code}\n{result.stdout}\n{result.stderr}"
        ok = result.failure is None and result.exit_code == 0
        return {
            "verdict": "verified" if ok else "failing",
            "exit_code": result.exit_code,
            "output_digest": digest(text),
            "at": datetime.now(UTC).isoformat(),
            "command": check,
        }

    verdict: dict[str, Any] = journal.step(
        "runner", f"reverify:{feature.id}", {"command": check}, run, output=dict
    )
    return {**verdict, "ref": journal.ref(journal.last_seq)}


def _run_clean(env: SessionEnv, check: str) -> dict[str, Any]:
    """The check on a clean checkout of HEAD, in a fresh sandbox (session.verify.clean)."""

    assert env.check_runners is not None
    verify = env.config.verify
    tree = tree_of(env.root, head_sha(env.root, env.git_checks), env.git_checks)
    with Checkout(
        env.root,
        tree,
        make_runner=env.check_runners,
        checks=env.git_checks,
        hidden=snapshot(env.root, verify.hidden),
        carry=verify.carry,
        setup=verify.setup,
        resources=env.resources,
    ) as checkout:
        ran = checkout.run(check)
    return {
        "verdict": "verified" if ran.passed else "failing",
        "exit_code": ran.exit_code,
        "output_digest": ran.output_digest,
        "at": datetime.now(UTC).isoformat(),
        "command": check,
        "tree": tree,
    }


def approval_text(features: list[Feature]) -> tuple[str, str]:
    """The one question for every adopted feature without a check: its text and context."""
    ids = [f.id for f in features]
    one = len(ids) == 1
    span = ids[0] if one else f"{len(ids)} features ({ids[0]}..{ids[-1]})"
    text = (
        f"{span} {'was' if one else 'were'} adopted as passing but {'has' if one else 'have'} "
        "no automated check: really done? Approve: they stay passing. Deny: they turn "
        "failing, for sessions to work on. Approve some: `harness approve ID --only "
        f"{ids[0]}{'' if one else '..' + ids[min(2, len(ids) - 1)]}` (the rest turn failing)."
    )
    context = "\n".join(f"{f.id}: {f.description}" for f in features)
    return text, context


def _ask_approval(
    env: SessionEnv, journal: StepJournal, features: list[Feature]
) -> dict[str, dict[str, Any]]:
    """One approval for ``features``; their verdicts (feature id -> verdict)."""

    escalation = env.gates
    ids = [f.id for f in features]
    if escalation is None:  # no question queue: nobody can approve, so none stays passing
        return {fid: {"verdict": "failing", "why": "no check and no question queue"} for fid in ids}
    store = escalation.store
    text, context = approval_text(features)

    def ask() -> dict[str, Any]:
        result = ask_human(
            store,
            text,
            context=context,
            choices=ids,
            interactive=escalation.interactive,
            kind="approval",
            topic="reverify",
            run=env.run.id,
            session=SESSION,
            key=f"reverify:{env.run.id}:{digest(','.join(ids))}",
            events=escalation.events,
        )
        result.raise_if_parked()
        question = result.question
        return {
            "question": question.id,
            "approved": question.approved_items() if result.status == "approved" else [],
            "at": datetime.now(UTC).isoformat(),
            "output_digest": digest(f"approved by a human in question {question.id}"),
        }

    answer: dict[str, Any] = journal.step(
        "human", "reverify:approval", {"features": ids}, ask, output=dict
    )
    approved = set(answer["approved"])
    return {
        fid: {
            "verdict": "verified" if fid in approved else "failing",
            "question": answer["question"],
            "at": answer["at"],
            "exit_code": 0,
            "output_digest": answer["output_digest"],
            "ref": f"human:{answer['question']}",
        }
        for fid in ids
    }


def _apply(env: SessionEnv, verdicts: dict[str, dict[str, Any]]) -> None:
    """Write the verdicts (deterministic from the recorded steps: safe to do again)."""

    updated = load_feature_list(env.root).model_copy(deep=True)
    for feature in updated.features:
        verdict = verdicts.get(feature.id)
        if verdict is None or feature.evidence is None or feature.evidence.verification != ADOPTED:
            continue
        if verdict["verdict"] == "verified":
            feature.evidence = Evidence(
                verification=verdict["ref"],
                at=datetime.fromisoformat(verdict["at"]),
                exit_code=0,
                output_digest=verdict["output_digest"],
                command=verdict.get("command"),
                session=SESSION,
                tree=verdict.get("tree"),
            )
        else:
            feature.passes = False
            feature.evidence = None
    save_feature_list(env.root, updated)


def _commit(env: SessionEnv, journal: StepJournal, verdicts: dict[str, Any]) -> str | None:

    if not (env.root / ".git").exists():
        return None
    verified = sorted(f for f, v in verdicts.items() if v["verdict"] == "verified")
    failing = sorted(f for f, v in verdicts.items() if v["verdict"] != "verified")

    def existing() -> str | None:
        with GitRepo.open(env.root) as repo:
            return repo.find_commit_with_trailer(TRAILER, env.run.id)

    def commit() -> str | None:
        with GitRepo.open(env.root) as repo:
            return repo.commit(
                f"re-verify adopted features: {len(verified)} verified, {len(failing)} failing",
                paths=["feature_list.json"],
                trailers={TRAILER: env.run.id},
            )

    sha: str | None = journal.step(
        "git",
        "commit",
        {"reverify": sorted(verdicts)},
        commit,  # type: ignore[arg-type]
        idempotent=False,
        recover=existing,
        output=str | None,  # type: ignore[arg-type]
    )
    return sha
