"""The flags several commands share: ``-c SECTION.KEY=VALUE`` and the named overrides of
run, init and demo (`overrides`), `harness config --set` (`parse_sets`)."""

from __future__ import annotations

import argparse

from harness.errors import ConfigError


def add_config_flag(parser: argparse.ArgumentParser, help: str = "") -> None:
    """``-c section.key=value`` (repeatable), as `git -c` and `codex -c` take it."""
    parser.add_argument(
        "-c",
        dest="config_values",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=help
        or "set a configuration value for this command only (repeatable), over "
        "harness.toml and the environment: -c budgets.run_sessions=3",
    )


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """Flag overrides shared by run, init and demo: ``-c`` values, then the named flags."""
    values: dict[str, object] = parse_sets(getattr(args, "config_values", []), flag="-c")
    if getattr(args, "model", None):
        values["model.name"] = args.model
    if getattr(args, "api_base", None):
        values["model.api_base"] = args.api_base
    if getattr(args, "api_key_env", None):
        values["model.api_key_env"] = args.api_key_env
    if getattr(args, "max_sessions", None) is not None:
        values["budgets.run_sessions"] = args.max_sessions
    return values


def parse_sets(items: list[str], *, flag: str = "--set") -> dict[str, object]:
    """``["model.name=x"]`` -> ``{"model.name": "x"}`` (values parsed later, per field)."""
    values: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"flag {flag} {item}",
                "",
                "expected SECTION.KEY=VALUE",
                f"E.g. {flag} runner.kind=local",
            )
        values[key.strip()] = value
    return values
