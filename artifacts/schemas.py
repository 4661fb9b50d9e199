"""JSON Schemas of the protocol files, generated from the models and shipped in templates/.

``SCHEMAS`` maps a schema name to its model; the file is ``templates/schemas/<name>.schema.json``.
``python -m artifacts.schemas --write`` regenerates every file; ``--check`` exits 1 when a
shipped file differs from its model (a test runs the same check).

:func:`schema_errors` validates parsed JSON with ``jsonschema`` and turns every error into an
:class:`ArtifactError` naming the file, the JSON path (``$.features[3].priority``) and why.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from artifacts.config import HarnessConfig
from artifacts.models import FeatureList, ProgressEntry
from harness.errors import ArtifactError

SCHEMAS: dict[str, type[BaseModel]] = {
    "feature_list": FeatureList,
    "progress_entry": ProgressEntry,
    "harness_toml": HarnessConfig,
}
DRAFT = "https://json-schema.org/draft/2020-12/schema"
_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def schema_dir() -> Path:
    """The folder of the shipped schemas (``templates/schemas``)."""
    return Path(str(resources.files("templates") / "schemas"))


def generate(name: str) -> dict[str, Any]:
    """The JSON Schema of ``SCHEMAS[name]``, as the shipped file should hold it."""
    schema = SCHEMAS[name].model_json_schema()
    return {"$schema": DRAFT, "$id": f"{name}.schema.json", **schema}


def render(name: str) -> str:
    """The shipped file's exact text."""
    return json.dumps(generate(name), indent=2, ensure_ascii=False) + "\n"


@cache
def shipped(name: str) -> dict[str, Any]:
    """The shipped schema ``name`` (read once)."""
    loaded: dict[str, Any] = json.loads((schema_dir() / f"{name}.schema.json").read_text("utf-8"))
    return loaded


def json_path(parts: Iterable[str | int]) -> str:
    """``["features", 3, "priority"]`` -> ``$.features[3].priority``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _type_name(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{_type_name(value)} {text}"


def _describe(error: Any, file: str) -> list[ArtifactError]:
    """One jsonschema error as ArtifactErrors with a plain-words reason."""
    path = list(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    fix = f"See templates/schemas/ for the format of {file}."
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        return [
            ArtifactError(
                file,
                json_path([*path, key]),
                f'unknown key "{key}"',
                "Remove it (harness keeps only the keys its schema names; typo?).",
            )
            for key in sorted(set(instance) - known)
        ]
    if kind == "required" and isinstance(instance, dict):
        missing = [key for key in value if key not in instance]
        if missing == ["evidence"] and instance.get("passes") is True:
            return [
                ArtifactError(
                    file,
                    json_path(path),
                    "passes is true but there is no evidence",
                    "Set passes to false: harness marks a feature passing only after it "
                    "runs its check itself.",
                )
            ]
        return [
            ArtifactError(file, json_path(path), f'missing required key "{key}"', fix)
            for key in missing
        ]
    if kind == "type" and value == "null" and path and path[-1] == "evidence":
        why = "the feature is failing but carries evidence"
        return [ArtifactError(file, json_path(path), why, "Remove the evidence.")]
    if kind == "type":
        why = f"expected {value}, found {_show(instance)}"
    elif kind == "anyOf":
        for index, branch in enumerate(value):
            expected = branch.get("type", "object")
            if expected != "null" and _type_name(instance) == expected:
                subs = [e for e in error.context if e.relative_schema_path[0] == index]
                return [err for sub in subs for err in _describe(sub, file)]
        options = [s.get("type", "object") for s in value]
        why = f"expected {' or '.join(map(str, options))}, found {_show(instance)}"
    elif kind in ("minimum", "maximum"):
        side = "below the minimum" if kind == "minimum" else "above the maximum"
        why = f"{instance} is {side} {value}"
        if path and path[-1] == "version":
            why += " (this harness reads version 1 only)"
    elif kind == "minLength":
        why = "must not be empty"
    elif kind == "pattern":
        why = f"{_show(instance)} does not match the pattern {value}"
        if path and path[-1] == "id":
            fix = 'Use an id such as "F001" (a letter, then letters, digits, "_", "." or "-").'
    else:
        why = error.message
    return [ArtifactError(file, json_path(path), why, fix)]


def schema_errors(instance: object, name: str, file: str) -> list[ArtifactError]:
    """Every error of ``instance`` against the shipped schema ``name``, in file order."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(shipped(name))
    found = sorted(
        validator.iter_errors(instance), key=lambda e: list(map(_sort_key, e.absolute_path))
    )
    result: list[ArtifactError] = []
    seen: set[tuple[str, str]] = set()
    for error in found:
        for described in _describe(error, file):
            # the evidence rule and the field type may both say "expected ..." at one place
            key = "expected" if described.why.startswith("expected ") else described.why
            if (described.where, key) not in seen:
                seen.add((described.where, key))
                result.append(described)
    return result


def _sort_key(part: str | int) -> tuple[int, int, str]:
    return (0, part, "") if isinstance(part, int) else (1, 0, part)


def pydantic_errors(
    error: ValidationError, file: str, prefix: Sequence[str | int] = ()
) -> list[ArtifactError]:
    """A pydantic ValidationError as ArtifactErrors with JSON paths."""
    result = []
    for item in error.errors():
        where = json_path([*prefix, *item["loc"]])
        why = item["msg"].removeprefix("Value error, ")
        fix = f"See templates/schemas/ for {file}."
        if "datetime" in item["type"] or "timezone" in item["type"]:
            fix = "Write a date as ISO 8601 with a time zone, e.g. 2026-11-23T12:00:00Z."
        result.append(ArtifactError(file, where, why, fix))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m artifacts.schemas --write|--check``."""
    parser = argparse.ArgumentParser(prog="python -m artifacts.schemas")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="write every schema file")
    group.add_argument("--check", action="store_true", help="exit 1 if a file drifted")
    args = parser.parse_args(argv)
    drifted = []
    for name in SCHEMAS:
        target = schema_dir() / f"{name}.schema.json"
        text = render(name)
        if args.write:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
        elif not target.exists() or target.read_text("utf-8") != text:
            drifted.append(name)
            print(f"drifted: {target} (run python -m artifacts.schemas --write)")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
