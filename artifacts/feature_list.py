"""Reading and writing ``feature_list.json``: the definition of done.

Loading is fast (pydantic only); when the file is invalid, the full check runs
``jsonschema`` too, so the error names the JSON path and the reason in plain words.
Every save runs :func:`artifacts.guards.check_transition` against the file on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from artifacts.guards import check_transition
from artifacts.io import atomic_write, decode, display, parse_json, read_bytes
from artifacts.models import FeatureList
from artifacts.quickstart import NotQuickstart, looks_like_harness, read_quickstart
from artifacts.schemas import json_path, pydantic_errors, schema_errors
from harness.errors import ArtifactError

FEATURE_LIST = "feature_list.json"
MAX_BYTES = 10_000_000


def _quickstart(data: object, file: str) -> ArtifactError | None:
    """The error for a feature list of the autonomous-coding quickstart: advice to adopt
    it when `harness adopt` would, else what adopt would refuse (never advice to run the
    command that refuses it). None for anything else (the schema's errors say it)."""

    if not isinstance(data, list | dict) or looks_like_harness(data):
        return None
    try:
        found = read_quickstart(data, file)
    except NotQuickstart as error:  # an object with harness's keys: the schema says more
        return None if isinstance(data, dict) and {"version", "features"} & set(data) else error
    except ArtifactError as error:
        return ArtifactError(
            file,
            error.where,
            "this is a feature list of the autonomous-coding quickstart that `harness adopt` "
            f"cannot adopt as it is: {error.why}",
            error.fix,
        )
    shape = "a flat array" if found.wrapper is None else f"wrapped in its {found.wrapper!r} key"
    return ArtifactError(
        file,
        "$",
        f"this is the feature list of the autonomous-coding quickstart ({shape}, "
        f"{len(found.entries)} entries), without harness's ids and evidence",
        "Run `harness adopt` to upgrade it in place (every key of every entry is kept).",
    )


def check_feature_list_text(text: str, file: str) -> tuple[FeatureList | None, list[ArtifactError]]:
    """Parse and validate the text of a feature list; return the model or every error."""

    try:
        data = parse_json(text, file)
    except ArtifactError as error:
        return None, [error]
    quickstart = _quickstart(data, file)
    if quickstart is not None:
        return None, [quickstart]
    errors = schema_errors(data, "feature_list", file)
    if errors:
        return None, errors
    assert isinstance(data, dict)
    seen: dict[str, int] = {}
    for index, item in enumerate(data["features"]):
        if item["id"] in seen:
            errors.append(
                ArtifactError(
                    file,
                    json_path(["features", index, "id"]),
                    f'duplicate id "{item["id"]}" (first used at $.features[{seen[item["id"]]}])',
                    "Ids are unique and never change: give the later feature a new id.",
                )
            )
        seen.setdefault(item["id"], index)
    if errors:
        return None, errors
    try:
        return FeatureList.model_validate(data), []
    except ValidationError as error:
        return None, pydantic_errors(error, file)


def parse_feature_list(text: str, file: str = FEATURE_LIST) -> FeatureList:
    """The feature list in ``text``; ArtifactError (the first of all errors) when invalid."""
    try:
        parse_json(text, file)  # duplicate keys and NaN, which pydantic would let through
        return FeatureList.model_validate_json(text, strict=True)
    except (ArtifactError, ValueError):
        pass  # the slow path below words the error with its JSON path
    result, errors = check_feature_list_text(text, file)
    if result is not None:
        return result
    first = errors[0]
    if len(errors) == 1:
        raise first
    more = f"({len(errors) - 1} more error(s): `harness validate` lists them all.)"
    raise ArtifactError(first.file, first.where, first.why, f"{first.fix} {more}".strip())


def load_feature_list(root: Path) -> FeatureList:
    """Read and validate ``<root>/feature_list.json``; raises ArtifactError."""
    path = root / FEATURE_LIST
    text = decode(read_bytes(path, root=root, max_bytes=MAX_BYTES), display(path, root))
    return parse_feature_list(text, display(path, root))


def dump_feature_list(features: FeatureList) -> str:
    """The file text harness writes: 2-space JSON, unset optional keys left out."""
    data = features.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save_feature_list(root: Path, new: FeatureList, *, adopting: bool = False) -> None:
    """Guard the transition from the file on disk to ``new``, validate, write atomically.

    An invalid file on disk is never overwritten: its error is raised instead.
    ``adopting`` lets a new file start with passing features ("adopted, unverified").
    """

    path = root / FEATURE_LIST
    old = load_feature_list(root) if path.exists() or path.is_symlink() else None
    check_transition(old, new, adopting=adopting)
    text = dump_feature_list(new)
    errors = schema_errors(json.loads(text), "feature_list", display(path, root))
    if errors:  # the models and the schema disagree: a bug, never write
        raise errors[0]
    atomic_write(path, text, root=root)
