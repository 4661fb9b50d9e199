"""`harness config`: print the effective configuration (TOML, or JSON) and its sources."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help="print the effective configuration",
        description="Print the effective configuration: defaults < harness.toml < "
        "HARNESS_<SECTION>_<KEY> environment < flags. Exit 2 on a bad value or key.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    parser.add_argument(
        "--sources",
        action="store_true",
        help="show where each value came from (default, file, env:HARNESS_..., flag)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a value (repeatable), e.g. --set model.name=openai/gpt-4o-mini",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.config import resolve_config

    resolved = resolve_config(Path(args.project).absolute(), overrides=parse_sets(args.set))
    data = resolved.config.model_dump(mode="json")
    if args.json:
        out: Any = {"config": data, "sources": resolved.sources} if args.sources else data
        print(json.dumps(out, indent=2))
    else:
        print(to_toml(data, resolved.sources if args.sources else None), end="")
    return 0


def parse_sets(items: list[str]) -> dict[str, object]:
    """``["model.name=x"]`` -> ``{"model.name": "x"}`` (values parsed later, per field)."""
    values: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"flag --set {item}",
                "",
                "expected SECTION.KEY=VALUE",
                "E.g. --set runner.kind=local",
            )
        values[key.strip()] = value
    return values


def to_toml(data: dict[str, Any], sources: dict[str, str] | None = None, prefix: str = "") -> str:
    """A section table (nested tables after the keys); None values as comments."""
    lines: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            tables.append(f"\n[{dotted}]\n" + to_toml(value, sources, dotted))
            continue
        note = f"  # {sources[dotted]}" if sources else ""
        if value is None:
            lines.append(f"# {key} = (unset){note}")
        else:
            lines.append(f"{key} = {_toml_value(value)}{note}")
    text = "\n".join(lines) + ("\n" if lines else "")
    return text + "".join(tables).lstrip("\n") if not prefix else text + "".join(tables)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
