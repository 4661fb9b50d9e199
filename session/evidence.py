"""Every passing feature's evidence checked against the journal it cites.

A feature passes only on a check the harness ran: its evidence must cite an existing,
ended, chain-valid ``verify_feature`` step (or the ``reverify:<id>`` step that checked an
adopted feature) of this project's journal, for that feature, with exit 0 and the same
output digest. Evidence from a human's approval (``human:<question>``) and
``adopted, unverified`` cite no step and are settled elsewhere (gates, ``reverify.py``).
``harness validate`` reports what fails; each ``harness run`` turns such features failing
again (to be verified), so a lost, replaced or forged journal never leaves a run
"complete" on evidence nobody can check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def _check(feature: Feature, journal: JournalReader | None, root: Path) -> str | None:
    from artifacts.models import ADOPTED
    from harness.journal.evidence import CitedStep

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
    elif (found.kind, found.name) == ("runner", f"reverify:{feature.id}"):
        data = {**output, "feature": feature.id}  # an adopted feature's check (reverify.py)
    else:
        return f"it cites step {found.ref.step}, which is {found.kind}/{found.name}, not a check"
    if data.get("feature") != feature.id:
        return f"step {found.ref.step} checked {data.get('feature')!r}, not {feature.id}"
    if data.get("exit_code") != 0 or evidence.exit_code != 0:
        return f"step {found.ref.step} recorded exit code {data.get('exit_code')!r}, not 0"
    if data.get("output_digest") != evidence.output_digest:
        return f"step {found.ref.step} recorded output digest {data.get('output_digest')!r}, " \
            f"the evidence says {evidence.output_digest!r}"  # fmt: skip
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
    from artifacts.feature_list import load_feature_list, save_feature_list

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
