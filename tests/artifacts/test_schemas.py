"""The shipped JSON Schemas match the models; the example project validates clean."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import jsonschema  # noqa: TID253  (a test, not the CLI: it may load it at the top)
import pytest

from artifacts import schemas
from artifacts.feature_list import load_feature_list
from artifacts.models import FeatureList, ProgressEntry
from artifacts.validate import check_project

Cli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize("name", sorted(schemas.SCHEMAS))
def test_shipped_schema_matches_the_model(name: str) -> None:
    shipped = (schemas.schema_dir() / f"{name}.schema.json").read_text("utf-8")
    assert shipped == schemas.render(name), "run: python -m artifacts.schemas --write"


def test_check_reports_drift(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in schemas.SCHEMAS:
        (tmp_path / f"{name}.schema.json").write_text(schemas.render(name))
    monkeypatch.setattr(schemas, "schema_dir", lambda: tmp_path)
    assert schemas.main(["--check"]) == 0
    (tmp_path / "feature_list.schema.json").write_text("{}\n")
    assert schemas.main(["--check"]) == 1


def test_shipped_schemas_are_valid_draft_2020_12() -> None:
    for name in schemas.SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(schemas.shipped(name))


def test_schema_enforces_evidence_with_passing(project: Path) -> None:
    data = json.loads((project / "feature_list.json").read_text())
    assert schemas.schema_errors(data, "feature_list", "f") == []
    data["features"][2]["passes"] = True
    (error,) = schemas.schema_errors(data, "feature_list", "f")
    assert error.where == "$.features[2]"
    assert "no evidence" in error.why


def test_every_error_is_reported_in_path_order(project: Path) -> None:
    data = json.loads((project / "feature_list.json").read_text())
    data["features"][4]["priority"] = -3
    data["features"][1]["category"] = 7
    data["features"][0]["surprise"] = True
    wheres = [e.where for e in schemas.schema_errors(data, "feature_list", "f")]
    assert wheres == ["$.features[0].surprise", "$.features[1].category", "$.features[4].priority"]


def test_json_path() -> None:
    assert schemas.json_path(["features", 3, "priority"]) == "$.features[3].priority"
    assert schemas.json_path(["a b"]) == '$["a b"]'


def test_example_project_validates_clean(project: Path, cli: Cli) -> None:

    report = check_project(project)  # the protocol files themselves
    assert report.errors == []
    assert report.summary().startswith(
        "valid: feature_list.json (2/5 features passing), progress.md (2 entries)"
    )
    # Copied without its journal: the evidence of its two passing features cannot be
    # checked, and `harness validate` says so (the files themselves are fine).
    code, out, err = cli(project, "validate")
    assert code == 2 and out == "" and "2 error(s)" in err
    assert "features[0].evidence (F001)" in err and "features[1].evidence (F002)" in err
    assert "there is no journal" in err
    features = load_feature_list(project)
    assert isinstance(features, FeatureList) and features.passing == 2


def test_progress_entry_schema_accepts_a_dumped_entry() -> None:

    entry = ProgressEntry(
        session=1, date=datetime(2026, 1, 1, tzinfo=UTC), outcome="ok", summary="s", next="n"
    )
    assert schemas.schema_errors(entry.model_dump(mode="json"), "progress_entry", "p") == []
