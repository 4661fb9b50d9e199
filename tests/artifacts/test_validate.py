"""validate_project: every error of every file, warnings apart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from artifacts.validate import check_project, validate_project

Cli = Callable[..., tuple[int, str, str]]


def test_every_error_of_every_file_is_reported(project: Path, cli: Cli) -> None:
    data = json.loads((project / "feature_list.json").read_text())
    data["features"][0]["priority"] = -1
    data["features"][3]["colour"] = "red"
    (project / "feature_list.json").write_text(json.dumps(data))
    (project / "progress.md").write_text("# Progress\n\n## Session x\n")
    (project / "init.sh").unlink()
    errors = validate_project(project)
    assert [(e.file, e.where) for e in errors] == [
        ("feature_list.json", "$.features[0].priority"),
        ("feature_list.json", "$.features[3].colour"),
        ("progress.md", "line 3"),
        ("init.sh", "(whole file)"),
    ]
    code, out, err = cli(project, "validate")
    assert code == 2 and out == ""
    assert "4 error(s)" in err
    assert err.count("The file was left unchanged.") == 4


def test_missing_harness_toml_is_not_an_error(project: Path) -> None:
    (project / "harness.toml").unlink()
    report = check_project(project)
    assert report.errors == []
    assert any("defaults apply" in w for w in report.warnings)


def test_init_sh_not_executable_is_a_warning(project: Path, cli: Cli) -> None:
    (project / "init.sh").chmod(0o644)
    assert check_project(project).errors == []
    _, _, err = cli(project, "validate")  # exit 2 only for the example's unchecked evidence
    assert "init.sh is not executable" in err and "init.sh: at" not in err


def test_progress_naming_an_unknown_feature_is_a_warning(project: Path) -> None:
    text = (project / "progress.md").read_text().replace("Feature:** F002", "Feature:** F099")
    (project / "progress.md").write_text(text)
    report = check_project(project)
    assert report.errors == [] and any("F099" in w for w in report.warnings)


def test_empty_progress_is_valid(project: Path) -> None:
    (project / "progress.md").write_text("")
    report = check_project(project)
    assert report.errors == [] and report.progress == []
