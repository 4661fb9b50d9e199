"""`harness config`: print the effective configuration (TOML, or JSON) and its sources."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.cli.flags import add_config_flag, parse_sets
from harness.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help="print the effective configuration, or set values in harness.toml",
        description="Print the effective configuration: defaults < your user config "
        "(~/.config/harness/config.toml) < harness.toml < HARNESS_<SECTION>_<KEY> "
        "environment < flags. --set writes values into harness.toml (or, with --user, into "
        "your user config), keeping its comments; --dry-run shows the file it would write. "
        "Exit 2 on a bad value or key (nothing written).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    parser.add_argument(
        "--sources",
        action="store_true",
        help="show where each value came from (default, user, file, env:HARNESS_..., flag)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="write a value (repeatable), e.g. --set model.name=openai/gpt-4o-mini",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --set: show the new file, write nothing"
    )
    add_config_flag(
        parser,
        "show the configuration with this value set for one command, as `run -c` would "
        "use it (repeatable; nothing written)",
    )
    parser.add_argument(
        "--user", action="store_true", help="with --set: write your user config, not the project's"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.config import resolve_config

    root = Path(args.project).absolute()
    values = parse_sets(args.set)
    if values:
        return _write(root, values, user=args.user, dry_run=args.dry_run)
    resolved = resolve_config(root, overrides=parse_sets(args.config_values, flag="-c"))
    data = resolved.config.model_dump(mode="json")
    if args.json:
        out: Any = {"config": data, "sources": resolved.sources} if args.sources else data
        print(json.dumps(out, indent=2))
    else:
        print(to_toml(data, resolved.sources if args.sources else None), end="")
    return 0


def _write(root: Path, values: dict[str, object], *, user: bool, dry_run: bool) -> int:
    """Write ``values`` into harness.toml (or the user config), each checked first."""
    from artifacts.config import HARNESS_TOML, load_config_file
    from artifacts.io import atomic_write
    from artifacts.toml_edit import set_table_keys
    from harness.config import flag_key, parse_value, resolve_config, user_config_path

    resolve_config(root, overrides=values)  # every value valid where it lands (exit 2)
    path = user_config_path() if user else root / HARNESS_TOML
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    new = text
    for dotted, raw in values.items():
        key = flag_key(dotted)
        typed = parse_value(str(raw), key)
        new = set_table_keys(new, ".".join(key[:-1]), {key[-1]: _toml_value(typed)}, literal=True)
    if dry_run:
        print(new, end="")
        print(f"# dry run: {path} not written", file=sys.stderr)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, new, root=path.parent)
    try:
        load_config_file(path)
    except ConfigError:
        atomic_write(path, text, root=path.parent)  # never leave a file that does not load
        raise
    for dotted, raw in values.items():
        print(f"harness config: {dotted} = {raw} written to {path}")
    return 0


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
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(str(value), ensure_ascii=False)
