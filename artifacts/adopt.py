"""Adopt a project that uses the feature list of the autonomous-coding quickstart.

The quickstart writes ``[{"category", "description", "steps", "passes"}, ...]``; real
projects add keys and wrappers (:mod:`artifacts.quickstart` reads them all). Adopting
upgrades it in place (one atomic write; every key of every entry kept) to
``{"version": 1, "features": [...]}`` with the project's own ids and priorities when they
are sane, else ``F001, F002, ...`` and ``1, 2, ...`` from array order. Entries already
passing stay passing, with evidence "adopted, unverified", until a run re-verifies them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from artifacts.feature_list import FEATURE_LIST, MAX_BYTES, dump_feature_list, parse_feature_list
from artifacts.guards import check_transition
from artifacts.io import atomic_write, decode, display, parse_json, read_bytes
from artifacts.models import ADOPTED, Evidence, Feature, FeatureList, digest
from artifacts.quickstart import Quickstart, looks_like_harness, read_quickstart
from artifacts.schemas import schema_errors
from harness.errors import ArtifactError


@dataclass(frozen=True)
class AdoptResult:
    """What adopting did: ``changed`` is False when the file was already upgraded."""

    changed: bool
    features: int
    passing: int
    message: str
    text: str = ""
    """The upgraded file's text (to write), when ``changed``."""


def upgrade(found: Quickstart) -> FeatureList:
    """The harness feature list for a checked quickstart list (every key kept)."""
    at = datetime.now(UTC).replace(microsecond=0)
    features = []
    for index, item in enumerate(found.entries):
        passes = item.get("passes") is True
        evidence = None
        if passes:
            evidence = Evidence(
                verification=ADOPTED,
                at=at,
                exit_code=0,
                output_digest=digest(json.dumps(item, sort_keys=True, ensure_ascii=False)),
            )
        features.append(
            Feature(
                id=found.ids[index],
                category=item["category"],
                description=item["description"],
                steps=list(item.get("steps", [])),
                priority=found.priorities[index],
                passes=passes,
                evidence=evidence,
                extra=found.extra(index) or None,
            )
        )
    return FeatureList(features=features, extra=found.top_extra or None)


def plan_feature_list(root: Path) -> AdoptResult:
    """What adopting ``<root>/feature_list.json`` would write (nothing is written):
    ``changed`` False when it is in harness format already. ArtifactError (every problem
    named) when it is neither."""

    path = root / FEATURE_LIST
    file = display(path, root)
    text = decode(read_bytes(path, root=root, max_bytes=MAX_BYTES), file)
    data = parse_json(text, file)
    if isinstance(data, dict):
        try:
            current = parse_feature_list(text, file)
        except ArtifactError:
            if looks_like_harness(data):
                raise  # a harness file with errors: say them, it is not a quickstart list
        else:
            return AdoptResult(
                False,
                len(current.features),
                current.passing,
                f"{file} is already in harness format (version {current.version}, "
                f"{len(current.features)} features); nothing changed.",
            )
    found = read_quickstart(data, file)
    new = upgrade(found)
    check_transition(None, new, adopting=True)
    out = dump_feature_list(new)
    errors = schema_errors(json.loads(out), "feature_list", file)
    if errors:
        raise errors[0]
    count = len(new.features)
    kept = sum(1 for f in new.features if f.extra)
    message = (
        f"adopted {file}: {count} features ({new.features[0].id}..{new.features[-1].id}), "
        "every key of every entry kept"
        + (f" ({kept} entries carry keys of their own, kept under extra)" if kept else "")
        + "; "
        + "; ".join(found.notes or [f"ids and priorities 1..{count} from array order"])
        + "."
    )
    passing = new.passing
    if passing:
        message += (
            f" {passing} passing entr{'y keeps' if passing == 1 else 'ies keep'} passing "
            f'as "{ADOPTED}" until `harness run` re-verifies them.'
        )
    return AdoptResult(True, count, passing, message, out)


def adopt_feature_list(root: Path) -> AdoptResult:
    """Upgrade ``<root>/feature_list.json`` in place if it is a quickstart list."""
    result = plan_feature_list(root)
    if result.changed:
        atomic_write(root / FEATURE_LIST, result.text, root=root)
    return result
