"""Validate every protocol file of a project and report all errors, not just the first."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from artifacts.config import load_config_file
from artifacts.feature_list import FEATURE_LIST, MAX_BYTES, check_feature_list_text
from artifacts.io import check_file, decode, display, read_bytes, read_text
from artifacts.models import FeatureList, ProgressEntry
from artifacts.progress import PROGRESS, parse_progress
from harness.errors import ArtifactError

INIT_SH = "init.sh"
HARNESS_TOML = "harness.toml"


@dataclass
class ProjectReport:
    """The result of checking a project: errors, warnings, and what was read."""

    errors: list[ArtifactError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    features: FeatureList | None = None
    progress: list[ProgressEntry] | None = None
    config_checked: bool = False

    def summary(self) -> str:
        """One line: what is valid."""
        parts = []
        if self.features is not None:
            total, passing = len(self.features.features), self.features.passing
            parts.append(f"{FEATURE_LIST} ({passing}/{total} features passing)")
        if self.progress is not None:
            parts.append(f"{PROGRESS} ({len(self.progress)} entries)")
        parts.append(HARNESS_TOML if self.config_checked else f"{HARNESS_TOML} (defaults)")
        parts.append(INIT_SH)
        return "valid: " + ", ".join(parts)


def _check_features(root: Path, report: ProjectReport) -> None:
    path = root / FEATURE_LIST
    try:
        text = decode(read_bytes(path, root=root, max_bytes=MAX_BYTES), display(path, root))
    except ArtifactError as error:
        report.errors.append(error)
        return
    report.features, errors = check_feature_list_text(text, display(path, root))
    report.errors.extend(errors)


def _check_progress(root: Path, report: ProjectReport) -> None:
    path = root / PROGRESS
    try:
        text = read_text(path, root=root, allow_empty=True)
        report.progress = parse_progress(text, display(path, root))
    except ArtifactError as error:
        report.errors.append(error)


def _check_config(root: Path, report: ProjectReport) -> None:
    path = root / HARNESS_TOML
    if not path.exists() and not path.is_symlink():
        report.warnings.append(f"{HARNESS_TOML} does not exist: the defaults apply.")
        return
    try:
        check_file(path, root=root, max_bytes=1_000_000)
    except ArtifactError as error:
        report.errors.append(error)
        return
    try:
        load_config_file(path)
        report.config_checked = True
    except ArtifactError as error:
        report.errors.append(error)
    except ValueError as error:  # a loader that lets tomllib's error through
        why = f"the file is not valid TOML ({error})"
        report.errors.append(ArtifactError(HARNESS_TOML, "", why, "Fix the syntax."))


def _check_init_sh(root: Path, report: ProjectReport) -> None:
    path = root / INIT_SH
    try:
        info = check_file(path, root=root, max_bytes=MAX_BYTES)
        with open(path, "rb") as handle:
            handle.read(1)
    except ArtifactError as error:
        report.errors.append(error)
        return
    except OSError as error:
        report.errors.append(
            ArtifactError(INIT_SH, "", f"cannot be read ({error.strerror})", "Fix its permissions.")
        )
        return
    if not info.st_mode & 0o111 or not os.access(path, os.X_OK):
        report.warnings.append(
            f"{INIT_SH} is not executable; harness runs it with `sh`. "
            f"`chmod +x {INIT_SH}` to run it directly."
        )


def _cross_check(report: ProjectReport) -> None:
    if report.features is None or report.progress is None:
        return
    known = {f.id for f in report.features.features}
    for entry in report.progress:
        if entry.feature is not None and entry.feature not in known:
            report.warnings.append(
                f"{PROGRESS}: session {entry.session} names feature {entry.feature}, "
                f"which {FEATURE_LIST} does not have."
            )


def check_project(root: Path) -> ProjectReport:
    """Check feature_list.json, progress.md, harness.toml and init.sh; collect everything."""
    report = ProjectReport()
    _check_features(root, report)
    _check_progress(root, report)
    _check_config(root, report)
    _check_init_sh(root, report)
    _cross_check(report)
    return report


def validate_project(root: Path) -> list[ArtifactError]:
    """Every error in the project's protocol files ([] when all are valid)."""
    return check_project(root).errors
