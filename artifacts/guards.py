"""Guards: the only legal changes to ``feature_list.json``.

- no feature is removed, reordered or reworded: ``id``, ``category``, ``description``,
  ``steps``, ``priority``, ``check`` and ``extra`` (the project's own fields) are frozen
  once written, and so is the list's own ``extra``; new features go at the end;
- ``passes`` turns true only with evidence (a verification, exit code 0, an output digest);
- passing -> failing is legal (a regression) and clears the evidence;
- a still-passing feature keeps its evidence, or takes newer evidence;
- ids are unique; a new file (no old list) starts with every feature failing, except when
  ``harness adopt`` upgrades a quickstart list (evidence "adopted, unverified").
"""

from __future__ import annotations

from artifacts.models import ADOPTED, Evidence, Feature, FeatureList
from harness.errors import GuardViolation

FILE = "feature_list.json"
FROZEN = ("category", "description", "steps", "priority", "check", "extra")


def _where(index: int, field: str = "") -> str:
    return f"$.features[{index}]" + (f".{field}" if field else "")


def _check_evidence(index: int, feature: Feature, *, adopting: bool) -> None:
    evidence = feature.evidence
    if evidence is None:
        raise GuardViolation(
            FILE,
            _where(index, "passes"),
            f"feature {feature.id} turns passing without evidence",
            "Run its check through harness; the verification it records is the evidence.",
        )
    problem = ""
    if evidence.exit_code != 0:
        problem = f"its evidence has exit code {evidence.exit_code}, not 0"
    elif not evidence.output_digest.strip():
        problem = "its evidence has no output digest"
    elif not evidence.verification.strip():
        problem = "its evidence names no verification"
    elif evidence.verification == ADOPTED and not adopting:
        problem = f'evidence "{ADOPTED}" comes only from `harness adopt`'
    if problem:
        raise GuardViolation(
            FILE,
            _where(index, "evidence"),
            f"feature {feature.id} turns passing but {problem}",
            "Only a verification harness ran with exit code 0 can make a feature pass.",
        )


def _check_unique(new: FeatureList) -> None:
    seen: dict[str, int] = {}
    for index, feature in enumerate(new.features):
        if feature.id in seen:
            raise GuardViolation(
                FILE,
                _where(index, "id"),
                f'duplicate id "{feature.id}" (also at {_where(seen[feature.id])})',
                "Ids are unique: give the new feature another id.",
            )
        seen[feature.id] = index


def _check_kept(index: int, before: Feature, after: Feature, new: FeatureList) -> None:
    if after.id != before.id:
        moved = next((i for i, f in enumerate(new.features) if f.id == before.id), None)
        why = (
            f"feature {before.id} moved from position {index} to {moved} (reordered)"
            if moved is not None
            else f"feature {before.id} was removed (or its id changed to {after.id})"
        )
        raise GuardViolation(
            FILE,
            _where(index, "id"),
            why,
            "Features are never removed, reordered or renamed; add new ones at the end.",
        )
    for field in FROZEN:
        if getattr(after, field) != getattr(before, field):
            raise GuardViolation(
                FILE,
                _where(index, field),
                f"the {field} of feature {before.id} changed",
                "A feature is never reworded once written; only its status changes.",
            )


def _check_status(index: int, before: Feature, after: Feature) -> None:
    if not after.passes:
        if after.evidence is not None:
            raise GuardViolation(
                FILE,
                _where(index, "evidence"),
                f"feature {after.id} is failing but keeps evidence",
                "Clear the evidence when a feature turns failing.",
            )
        return
    if not before.passes:
        _check_evidence(index, after, adopting=False)
        return
    old, new = before.evidence, after.evidence
    if new == old:
        return
    _check_evidence(index, after, adopting=False)
    if isinstance(old, Evidence) and isinstance(new, Evidence) and new.at <= old.at:
        raise GuardViolation(
            FILE,
            _where(index, "evidence"),
            f"the evidence of passing feature {after.id} was replaced by older evidence "
            f"({new.at.isoformat()} is not after {old.at.isoformat()})",
            "Evidence may only be replaced by a newer verification.",
        )


def check_transition(old: FeatureList | None, new: FeatureList, *, adopting: bool = False) -> None:
    """Raise GuardViolation unless ``old`` -> ``new`` is a legal change of the feature list.

    Args:
        old: the list on disk, or None for a new file.
        new: the list about to be written.
        adopting: a new file from ``harness adopt`` may keep passing entries whose
            evidence is "adopted, unverified".
    """
    _check_unique(new)
    if old is None:
        for index, feature in enumerate(new.features):
            if not feature.passes:
                if feature.evidence is not None:
                    _check_status(index, feature, feature)
                continue
            if not adopting:
                raise GuardViolation(
                    FILE,
                    _where(index, "passes"),
                    f"feature {feature.id} is passing in a new feature list",
                    "The definition of done starts with every feature failing.",
                )
            _check_evidence(index, feature, adopting=True)
        return
    if new.version != old.version:
        raise GuardViolation(
            FILE,
            "$.version",
            f"the version changed from {old.version} to {new.version}",
            "Keep the version of the file on disk.",
        )
    if new.extra != old.extra:
        raise GuardViolation(
            FILE,
            "$.extra",
            "the project's own top-level fields (extra) changed",
            "They are kept as the project wrote them; only a feature's status changes.",
        )
    if len(new.features) < len(old.features):
        missing = [f.id for f in old.features if new.get(f.id) is None]
        raise GuardViolation(
            FILE,
            "$.features",
            f"{len(old.features) - len(new.features)} feature(s) removed: {', '.join(missing)}",
            "Features are never removed; a feature no longer wanted stays, failing.",
        )
    for index, before in enumerate(old.features):
        after = new.features[index]
        _check_kept(index, before, after, new)
        _check_status(index, before, after)
    for index in range(len(old.features), len(new.features)):
        added = new.features[index]
        failing = added.model_copy(update={"passes": False, "evidence": None})
        _check_status(index, failing, added)
