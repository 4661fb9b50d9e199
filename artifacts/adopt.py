"""Adopt a project that uses the flat-array feature list of the autonomous-coding quickstart.

The quickstart writes ``[{"category", "description", "steps", "passes"}, ...]``. Adopting
upgrades it in place (one atomic write; every text kept exactly) to
``{"version": 1, "features": [...]}`` with ids ``F001, F002, ...`` and priorities
``1, 2, ...`` from array order. Entries already passing stay passing, with evidence
"adopted, unverified", so the first session re-verifies them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from artifacts.feature_list import FEATURE_LIST, MAX_BYTES, parse_feature_list
from artifacts.guards import check_transition
from artifacts.io import atomic_write, decode, display, parse_json, read_bytes
from artifacts.models import ADOPTED, Evidence, Feature, FeatureList, digest
from harness.errors import ArtifactError

LEGACY_KEYS = {"category": str, "description": str, "steps": list, "passes": bool}


@dataclass(frozen=True)
class AdoptResult:
    """What adopting did: ``changed`` is False when the file was already upgraded."""

    changed: bool
    features: int
    passing: int
    message: str


def _legacy_feature(index: int, item: object, file: str, width: int) -> Feature:
    where = f"$[{index}]"
    fix = "Fix the entry by hand; adopt changed nothing."
    if not isinstance(item, dict):
        raise ArtifactError(file, where, "an entry is not an object", fix)
    for key, kind in LEGACY_KEYS.items():
        if key not in item:
            raise ArtifactError(file, where, f'the entry has no "{key}" key', fix)
        if not isinstance(item[key], kind):
            raise ArtifactError(
                file, f"{where}.{key}", f"expected {kind.__name__}, found {item[key]!r:.60}", fix
            )
    extra = sorted(set(item) - set(LEGACY_KEYS))
    if extra:
        raise ArtifactError(
            file,
            f"{where}.{extra[0]}",
            f'unknown key "{extra[0]}" (adopting would lose it)',
            "Move its content into the description or steps, or remove it, then adopt again.",
        )
    for step, text in enumerate(item["steps"]):
        if not isinstance(text, str):
            raise ArtifactError(file, f"{where}.steps[{step}]", "a step is not a string", fix)
    for key in ("category", "description"):
        if not item[key]:
            raise ArtifactError(file, f"{where}.{key}", f"the {key} is empty", fix)
    evidence = None
    if item["passes"]:
        evidence = Evidence(
            verification=ADOPTED,
            at=datetime.now(UTC).replace(microsecond=0),
            exit_code=0,
            output_digest=digest(json.dumps(item, sort_keys=True, ensure_ascii=False)),
        )
    return Feature(
        id=f"F{index + 1:0{width}d}",
        category=item["category"],
        description=item["description"],
        steps=list(item["steps"]),
        priority=index + 1,
        passes=item["passes"],
        evidence=evidence,
    )


def upgrade(data: list[object], file: str) -> FeatureList:
    """The harness feature list for a quickstart array (raises ArtifactError on bad entries)."""
    width = max(3, len(str(len(data))))
    return FeatureList(features=[_legacy_feature(i, x, file, width) for i, x in enumerate(data)])


def adopt_feature_list(root: Path) -> AdoptResult:
    """Upgrade ``<root>/feature_list.json`` in place if it is a quickstart array."""
    from artifacts.feature_list import dump_feature_list
    from artifacts.schemas import schema_errors

    path = root / FEATURE_LIST
    file = display(path, root)
    text = decode(read_bytes(path, root=root, max_bytes=MAX_BYTES), file)
    data = parse_json(text, file)
    if isinstance(data, dict):
        current = parse_feature_list(text, file)  # raises when invalid
        return AdoptResult(
            False,
            len(current.features),
            current.passing,
            f"{file} is already in harness format (version {current.version}, "
            f"{len(current.features)} features); nothing changed.",
        )
    if not isinstance(data, list):
        raise ArtifactError(
            file,
            "$",
            f"expected the quickstart's array of features, found {type(data).__name__}",
            "Adopt reads a JSON array of {category, description, steps, passes}.",
        )
    if not data:
        raise ArtifactError(
            file,
            "$",
            "the array is empty: there is nothing to adopt",
            "Write the features first, or let `harness init` write them.",
        )
    new = upgrade(data, file)
    check_transition(None, new, adopting=True)
    out = dump_feature_list(new)
    errors = schema_errors(json.loads(out), "feature_list", file)
    if errors:
        raise errors[0]
    atomic_write(path, out, root=root)
    last = new.features[-1].id
    passing = new.passing
    message = (
        f"adopted {file}: {len(new.features)} features ({new.features[0].id}..{last}), "
        f"priorities 1..{len(new.features)} from array order, every text kept."
    )
    if passing:
        message += (
            f" {passing} passing entr{'y keeps' if passing == 1 else 'ies keep'} passing "
            f'with evidence "{ADOPTED}": the first session re-verifies them.'
        )
    return AdoptResult(True, len(new.features), passing, message)
