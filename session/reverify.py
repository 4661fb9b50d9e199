"""Re-verify adopted features before a run may call itself complete.

`harness adopt` keeps the quickstart's passing entries passing with evidence "adopted,
unverified": nothing the harness ran proves them. Before the first session, each one is
settled as session 0 of the run: a feature with a check has the check run by the harness
(exit 0: new evidence citing that step; otherwise it turns failing, for a session to fix);
a feature without a check needs a human's approval (approved: evidence citing the answer;
denied: it turns failing). Unattended, the approvals park the run until answered. The
result is committed (feature_list.json only) with a `Harness-Reverify` trailer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from harness.errors import Parked

if TYPE_CHECKING:
    from artifacts.models import Feature
    from harness.journal.protocol import StepJournal
    from session.cycle import SessionEnv

SESSION = 0
TRAILER = "Harness-Reverify"


def adopted_unverified(env: SessionEnv) -> list[Feature]:
    from artifacts.feature_list import load_feature_list
    from artifacts.models import ADOPTED

    features = load_feature_list(env.root).features
    return [f for f in features if f.passes and f.evidence and f.evidence.verification == ADOPTED]


def reverify_adopted(env: SessionEnv) -> dict[str, str]:
    """Settle every adopted-unverified feature; returns feature id -> "verified" | "failing".

    Raises Parked while a human's approval is awaited (the step stays in flight).
    """
    pending = adopted_unverified(env)
    if not pending:
        return {}
    journal = env.run.session(SESSION, {"purpose": "re-verify adopted features"})
    verdicts: dict[str, dict[str, Any]] = {}
    parked: Parked | None = None
    for feature in pending:
        if feature.check:
            verdicts[feature.id] = _run_check(env, journal, feature)
            continue
        try:
            verdicts[feature.id] = _ask_approval(env, journal, feature)
        except Parked as exc:  # ask every approval now; the run parks once, after them all
            parked = parked or exc
    if parked is not None:
        raise parked
    _apply(env, verdicts)
    sha = _commit(env, journal, verdicts)
    summary = {fid: v["verdict"] for fid, v in verdicts.items()}
    journal.close("reverified", {"features": summary, "commit": sha})
    return summary


def _run_check(env: SessionEnv, journal: StepJournal, feature: Feature) -> dict[str, Any]:
    from artifacts.models import digest

    check = str(feature.check)

    def run() -> dict[str, Any]:
        result = env.runner.run(check, resources=env.resources, phase="agent")
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


def _ask_approval(env: SessionEnv, journal: StepJournal, feature: Feature) -> dict[str, Any]:
    from artifacts.models import digest
    from escalation import ask_human

    escalation = env.gates
    if escalation is None:  # no question queue: nobody can approve, so it cannot stay passing
        return {"verdict": "failing", "why": "no check and no question queue"}
    store = escalation.store

    def ask() -> dict[str, Any]:
        result = ask_human(
            store,
            f"{feature.id} was adopted as passing but has no automated check: is it really "
            f"done? ({feature.description})",
            interactive=escalation.interactive,
            kind="approval",
            topic="reverify",
            run=env.run.id,
            session=SESSION,
            key=f"reverify:{env.run.id}:{feature.id}",
            events=escalation.events,
        )
        result.raise_if_parked()
        ok = result.status == "approved"
        return {
            "verdict": "verified" if ok else "failing",
            "question": result.question.id,
            "at": datetime.now(UTC).isoformat(),
            "exit_code": 0,
            "output_digest": digest(f"approved by a human in question {result.question.id}"),
        }

    verdict: dict[str, Any] = journal.step(
        "human", f"reverify:{feature.id}", {"feature": feature.id}, ask, output=dict
    )
    return {**verdict, "ref": f"human:{verdict['question']}"} if "question" in verdict else verdict


def _apply(env: SessionEnv, verdicts: dict[str, dict[str, Any]]) -> None:
    """Write the verdicts (deterministic from the recorded steps: safe to do again)."""
    from artifacts.feature_list import load_feature_list, save_feature_list
    from artifacts.models import ADOPTED, Evidence

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
            )
        else:
            feature.passes = False
            feature.evidence = None
    save_feature_list(env.root, updated)


def _commit(env: SessionEnv, journal: StepJournal, verdicts: dict[str, Any]) -> str | None:
    from artifacts.git import GitRepo

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
