"""`harness validate`: check every protocol file; exit 0 valid, 2 invalid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ArtifactError, ExitCode, HarnessError

if TYPE_CHECKING:
    from artifacts.models import FeatureList


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check feature_list.json, progress.md, harness.toml, init.sh and the evidence",
        description="Check every protocol file and list every error (exit 0 valid, 2 invalid). "
        "Every passing feature's evidence must cite an existing, ended, chain-valid "
        "verify_feature step of this project's journal, with exit 0 and the same digest.",
    )
    parser.add_argument(
        "--json", action="store_true", help="print {ok, errors: [{file, where, why, fix}], ...}"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from artifacts.validate import check_project

    root = Path(args.project)
    report = check_project(root)
    if report.features is not None:
        report.errors.extend(evidence_errors(root, report.features))
    if report.config_checked:
        _check_model(root, report)
    if getattr(args, "json", False):
        import json

        errors = [
            {"file": e.file, "where": e.where, "why": e.why, "fix": e.fix, "message": str(e)}
            for e in report.errors
        ]
        out = {"ok": not errors, "errors": errors, "warnings": report.warnings}
        if not errors:
            out["summary"] = report.summary()
        print(json.dumps(out, indent=2))
        return int(ExitCode.INVALID if errors else ExitCode.OK)
    for warning in report.warnings:
        print(f"harness: warning: {warning}", file=sys.stderr)
    if report.errors:
        count = len(report.errors)
        print(f"harness: {count} error(s) in {root}:", file=sys.stderr)
        for error in report.errors:
            print(f"\n- {error}", file=sys.stderr)
        return int(ExitCode.INVALID)
    print(report.summary())
    return int(ExitCode.OK)


def evidence_errors(root: Path, features: FeatureList) -> list[ArtifactError]:
    """Each passing feature whose evidence the journal does not bear out, as an error."""
    from artifacts.feature_list import FEATURE_LIST
    from harness.config import journal_location
    from harness.journal.protocol import JournalReader, journal_exists, open_reader
    from session.evidence import check_evidence

    where = journal_location(root)
    journal: JournalReader | None = None
    if journal_exists(where):
        try:
            journal = open_reader(where)
        except HarnessError as error:
            named = where.describe()
            return [ArtifactError(named, "", f"the evidence cannot be checked: {error}")]
    try:
        found = check_evidence(root, features, journal)
    finally:
        if journal is not None:
            journal.close()
    fix = "`harness run` counts it as failing and verifies it again."
    return [
        ArtifactError(
            FEATURE_LIST, f"features[{item.index}].evidence ({item.feature})", item.reason, fix
        )
        for item in found
    ]


def _check_model(root: Path, report: Any) -> None:
    """The configured model must be one that can work: a provider litellm knows, or a
    script file that exists and parses (no request is sent; `doctor --probe` sends one)."""
    from harness.config import load_config
    from harness.errors import ConfigError, HarnessError
    from harness.model.names import CHOOSE_A_MODEL, check_model_name

    try:
        name = load_config(root).model.name
    except HarnessError as error:
        report.errors.append(error)
        return
    if not name:
        report.warnings.append(f"no model is configured. {CHOOSE_A_MODEL}")
        return
    problem = check_model_name(name, root.resolve())
    if problem:
        report.errors.append(ConfigError("harness.toml", "[model].name", problem.rstrip(".")))
