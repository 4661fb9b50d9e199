"""Every passing feature's evidence checked against the journal it cites.

A feature passes only on a check the harness ran: its evidence must cite an existing,
ended, chain-valid ``verify_feature`` step (or the ``proof:after:<id>`` step mark_passing
ran, or the ``reverify:<id>`` step that checked an adopted feature) of this project's
journal, for that feature, with exit 0 and the same output digest, on the tree the evidence
names. The proofs it cites must hold too: the ``proof:before:<id>`` run failed on another
tree (the one the session started from), and the evaluator's ``verdict:<id>`` passed the
feature on the same tree. Evidence from a human's approval (``human:<question>``) and
``adopted, unverified`` cite no step and are settled elsewhere (gates, ``reverify.py``).
``harness validate`` reports what fails; each ``harness run`` turns such features failing
again (to be verified), so a lost, replaced or forged journal never leaves a run
"complete" on evidence nobody can check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifacts.feature_list import load_feature_list, save_feature_list
from artifacts.models import ADOPTED
from harness.journal.evidence import CitedStep

if TYPE_CHECKING:
    from artifacts.models import Feature, FeatureList
    from harness.journal.protocol import JournalReader


@dataclass(frozen=True)
class Unverified:
    """A passing feature whose evidence does not hold, and why."""

    index: int
    feature: str
    reason: str

    def text(self) -> str:
        return f"{self.feature}: its evidence does not hold: {self.reason}"


def _step(journal: JournalReader, ref: str, kind: str, name: str) -> tuple[Any, str | None]:
    """(the cited step's output, None) when it exists, ended, chain-valid, of that kind and
    name; else (None, what is wrong)."""

    found = journal.cited_step(ref)
    if not isinstance(found, CitedStep):
        return None, found
    if found.status != "ended":
        return None, f"it cites step {found.ref.step}, which has not ended ({found.status})"
    if (found.kind, found.name) != (kind, name):
        what = f"{found.kind}/{found.name}"
        return None, f"it cites step {found.ref.step}, which is {what}, not {kind}/{name}"
    return (found.output if isinstance(found.output, dict) else {}), None


def _check(feature: Feature, journal: JournalReader | None, root: Path) -> str | None:

    evidence = feature.evidence
    assert evidence is not None
    ref = evidence.verification
    if ref == ADOPTED or ref.startswith("human:"):
        return None  # re-verified by the first session / a human's approval, not a step
    if journal is None:
        return f"it cites {ref}, but there is no journal in {root / '.harness'} (lost?)"
    found = journal.cited_step(ref)
    if not isinstance(found, CitedStep):
        return found
    if found.status != "ended":
        return f"it cites step {found.ref.step}, which has not ended ({found.status})"
    data: dict[str, Any] = {}
    output = found.output if isinstance(found.output, dict) else {}
    if (found.kind, found.name) == ("tool", "verify_feature"):
        # the step's typed effect (session.effects.Verified), as journaled with its output
        effects = output.get("effects") if output.get("status") == "ok" else None
        verified = [e for e in effects or [] if isinstance(e, dict) and e.get("kind") == "verified"]
        data = verified[0] if verified else {}
    elif (found.kind, found.name) in (
        ("runner", f"reverify:{feature.id}"),  # an adopted feature's check (reverify.py)
        ("runner", f"proof:after:{feature.id}"),  # re-run by mark_passing (a clean check)
    ):
        data = {**output, "feature": feature.id}
    else:
        return f"it cites step {found.ref.step}, which is {found.kind}/{found.name}, not a check"
    if data.get("feature") != feature.id:
        return f"step {found.ref.step} checked {data.get('feature')!r}, not {feature.id}"
    if data.get("exit_code") != 0 or evidence.exit_code != 0:
        return f"step {found.ref.step} recorded exit code {data.get('exit_code')!r}, not 0"
    if data.get("output_digest") != evidence.output_digest:
        return f"step {found.ref.step} recorded output digest {data.get('output_digest')!r}, " \
            f"the evidence says {evidence.output_digest!r}"  # fmt: skip
    if evidence.tree is not None and (data.get("tree") or None) != evidence.tree:
        return f"step {found.ref.step} ran on tree {data.get('tree')!r}, not {evidence.tree}"
    return _check_proofs(feature, journal)


def _check_proofs(feature: Feature, journal: JournalReader) -> str | None:
    """The "before" run and the evaluator's verdict the evidence cites, if it cites them."""
    evidence = feature.evidence
    assert evidence is not None
    before = evidence.before
    if before is not None:
        output, wrong = _step(journal, before.step, "runner", f"proof:before:{feature.id}")
        if wrong is not None:
            return f"its 'before' proof does not hold: {wrong}"
        passed = output.get("exit_code") == 0 and not output.get("failure")
        if output.get("tree") != before.tree or before.tree == evidence.tree:
            return f"its 'before' run ran on tree {output.get('tree')!r}, not {before.tree}"
        if passed or output.get("exit_code") != before.exit_code:
            return f"its 'before' run passed or differs (exit {output.get('exit_code')!r})"
        if output.get("output_digest") != before.output_digest:
            return "its 'before' run recorded another output digest"
    review = evidence.review
    if review is not None:
        output, wrong = _step(journal, review.step, "evaluator", f"verdict:{feature.id}")
        if wrong is not None:
            return f"its evaluator's verdict does not hold: {wrong}"
        if output.get("passed") is not True or output.get("feature") != feature.id:
            return f"the evaluator's verdict it cites did not pass {feature.id}"
        if evidence.tree is not None and output.get("tree") != evidence.tree:
            return f"the evaluator reviewed tree {output.get('tree')!r}, not {evidence.tree}"
    return None


def check_evidence(
    root: Path, features: FeatureList, journal: JournalReader | None
) -> list[Unverified]:
    """Every passing feature whose evidence does not hold (none when all do)."""
    found = []
    for index, feature in enumerate(features.features):
        if feature.passes and feature.evidence is not None:
            reason = _check(feature, journal, root)
            if reason is not None:
                found.append(Unverified(index, feature.id, reason))
    return found


def demote_unverified(root: Path, journal: JournalReader) -> list[Unverified]:
    """Turn every passing feature whose evidence does not hold failing again (a guarded
    write of feature_list.json), so the run verifies it instead of counting it done."""

    features = load_feature_list(root)
    found = check_evidence(root, features, journal)
    if not found:
        return []
    updated = features.model_copy(deep=True)
    bad = {item.feature for item in found}
    for feature in updated.features:
        if feature.id in bad:
            feature.passes = False
            feature.evidence = None
    save_feature_list(root, updated)
    return found
