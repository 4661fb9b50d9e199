"""Adopting the quickstart's feature list in the shapes real projects give it: every key of
every entry kept, the project's own ids and priorities when sane, wrappers read, every
problem named, nothing written on a refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from artifacts.adopt import adopt_feature_list
from artifacts.feature_list import load_feature_list, save_feature_list
from artifacts.models import ADOPTED, Feature
from harness.errors import GuardViolation
from tests.artifacts.conftest import tree_digest
from tests.artifacts.quickstart_shapes import FEATURES, entries

Cli = Callable[..., tuple[int, str, str]]
ADOPTABLE = [name for name in FEATURES if name not in ("grouped", "broken")]


def write(project: Path, data: object) -> None:
    (project / "feature_list.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))


def original(feature: Feature) -> dict[str, Any]:
    """The quickstart entry a feature came from: what harness took, plus its extra."""
    entry: dict[str, Any] = {
        "category": feature.category,
        "description": feature.description,
        "steps": feature.steps,
        "passes": feature.passes,
        **(feature.extra or {}),
    }
    return entry


@pytest.mark.parametrize("shape", ADOPTABLE)
def test_every_key_of_every_entry_is_kept(project: Path, cli: Cli, shape: str) -> None:
    data = FEATURES[shape]()
    write(project, data)
    code, _, err = cli(project, "adopt")
    assert code == 0, err
    features = load_feature_list(project)
    items = data["features"] if isinstance(data, dict) else data
    assert len(features.features) == len(items)
    for item, feature in zip(items, features.features, strict=True):
        rebuilt = original(feature)
        for key in ("id", "priority"):  # taken as they were: not repeated under extra
            if key in item and key not in rebuilt:
                rebuilt[key] = getattr(feature, key)
        assert rebuilt == item
        assert feature.passes == item["passes"]
        assert (feature.state == ADOPTED) == item["passes"]
    if isinstance(data, dict):
        assert features.extra == {k: v for k, v in data.items() if k != "features"}
    assert cli(project, "validate")[0] == 0


def test_the_projects_own_ids_and_priorities_are_used(project: Path, cli: Cli) -> None:
    data = [{**e, "id": f"auth-{n}", "priority": 10 - n} for n, e in enumerate(entries(4), 1)]
    write(project, data)
    code, out, _ = cli(project, "adopt")
    assert code == 0 and "ids are the project's own" in out and "priorities are the" in out
    features = load_feature_list(project).features
    assert [(f.id, f.priority, f.extra) for f in features] == [
        ("auth-1", 9, None),
        ("auth-2", 8, None),
        ("auth-3", 7, None),
        ("auth-4", 6, None),
    ]


@pytest.mark.parametrize(
    ("ids", "expected", "said"),
    [
        ([3, 1, 2], ["F003", "F001", "F002"], "numeric ids"),
        (["a", "a", "b"], ["F001", "F002", "F003"], "used twice"),
        (["ok", "has space", "x"], ["F001", "F002", "F003"], "not an id like F001"),
        ([1, 1, 2], ["F001", "F002", "F003"], "not an id like F001"),
    ],
)
def test_ids_that_are_not_sane_come_from_array_order_and_are_kept(
    project: Path, cli: Cli, ids: list[Any], expected: list[str], said: str
) -> None:
    write(project, [{**e, "id": i} for e, i in zip(entries(3), ids, strict=True)])
    code, out, err = cli(project, "adopt")
    assert code == 0, err
    assert said in out
    features = load_feature_list(project).features
    assert [f.id for f in features] == expected
    assert [(f.extra or {}).get("id") for f in features] == ids


@pytest.mark.parametrize(
    ("values", "expected", "said"),
    [
        (["high", "Low", "medium", "critical"], [2, 4, 3, 1], "priority words"),
        (["P0", "p2", "3", 7], [1, 3, 3, 7], "priority words"),
        (["high", "someday", "low", 1], [1, 2, 3, 4], "array order"),
        ([1, -2, 3, 4], [1, 2, 3, 4], "array order"),
    ],
)
def test_priorities_words_numbers_or_array_order(
    project: Path, cli: Cli, values: list[Any], expected: list[int], said: str
) -> None:
    write(project, [{**e, "priority": v} for e, v in zip(entries(4), values, strict=True)])
    code, out, err = cli(project, "adopt")
    assert code == 0 and said in out, out + err
    features = load_feature_list(project).features
    assert [f.priority for f in features] == expected
    for feature, value in zip(features, values, strict=True):
        kept = (feature.extra or {}).get("priority", feature.priority)
        assert kept == value  # the project's own value, as it was, whichever was used


def test_missing_steps_and_passes_are_filled_and_said(project: Path, cli: Cli) -> None:
    write(project, [{"category": "c", "description": "d"}, *entries(1)])
    code, out, err = cli(project, "adopt")
    assert code == 0, err
    assert "no 'steps' key ($[0]): adopted with steps = []" in out
    assert "no 'passes' key ($[0]): adopted with passes = false" in out
    first = load_feature_list(project).features[0]
    assert first.steps == [] and not first.passes


def test_every_problem_is_named_grouped_with_counts(project: Path, cli: Cli) -> None:
    write(project, FEATURES["broken"]())
    before = tree_digest(project)
    code, _, err = cli(project, "adopt")
    assert code == 2
    assert "5 problem(s) of 4 kind(s) in 8 entries" in err
    assert '"passes" is not true or false (2 entries): $[4].passes, $[6].passes' in err
    assert 'no "description" key (1 entry): $[3]' in err
    assert '"steps" is not an array (1 entry): $[5].steps' in err
    assert "the entry is not an object (found string) (1 entry): $[7]" in err
    assert tree_digest(project) == before


def test_many_problems_of_a_kind_are_counted_not_all_listed(project: Path, cli: Cli) -> None:
    write(project, [{**e, "passes": "no"} for e in entries(40)])
    code, _, err = cli(project, "adopt")
    assert code == 2 and "(40 entries): $[0].passes" in err and "and 34 more" in err


def test_a_wrapped_list_is_adopted_and_its_other_keys_kept(project: Path, cli: Cli) -> None:
    data = {"project": "Todo", "meta": {"n": 2}, "tests": entries(2, passing=1)}
    write(project, data)
    code, out, err = cli(project, "adopt")
    assert code == 0, err
    assert "wrapped in an object: read from its 'tests' array" in out
    assert load_feature_list(project).extra == {"project": "Todo", "meta": {"n": 2}}


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        ({"auth": entries(2), "ui": entries(1)}, "features grouped under 2 keys (auth, ui)"),
        ({"project": "x", "notes": "y"}, "an object with keys project, notes"),
        (["one", "two"], "an array of string"),
        ("features", "a JSON string"),
    ],
)
def test_what_is_not_the_quickstart_array_is_named(
    project: Path, cli: Cli, data: object, looks_like: str
) -> None:
    write(project, data)
    before = tree_digest(project)
    code, _, err = cli(project, "adopt")
    assert code == 2 and "this is not the quickstart array; it looks like" in err, err
    assert looks_like in err
    assert tree_digest(project) == before


def test_validate_advises_adopt_only_for_what_adopt_takes(project: Path, cli: Cli) -> None:
    write(project, FEATURES["qa_keys"]())
    code, _, err = cli(project, "validate")
    assert code == 2 and "Run `harness adopt`" in err
    write(project, FEATURES["wrapper"]())
    code, _, err = cli(project, "validate")
    assert code == 2 and "wrapped in its 'features' key" in err and "Run `harness adopt`" in err
    write(project, FEATURES["broken"]())
    code, _, err = cli(project, "validate")
    assert code == 2 and "Run `harness adopt`" not in err
    assert "cannot adopt as it is" in err and "5 problem(s)" in err


def test_adopt_twice_changes_nothing(project: Path, cli: Cli) -> None:
    write(project, entries(3, passing=1))
    assert cli(project, "adopt")[0] == 0
    before = (project / "feature_list.json").read_bytes()
    code, out, _ = cli(project, "adopt")
    assert code == 0 and "already in harness format" in out and "nothing changed" in out
    assert (project / "feature_list.json").read_bytes() == before


def test_adopt_on_a_harness_file_changes_nothing(project: Path, cli: Cli) -> None:
    before = (project / "feature_list.json").read_bytes()
    code, out, _ = cli(project, "adopt")
    assert code == 0 and "5 features" in out
    assert (project / "feature_list.json").read_bytes() == before


def test_ids_widen_past_999(project: Path, cli: Cli) -> None:
    write(project, entries(1000))
    assert cli(project, "adopt")[0] == 0
    ids = [f.id for f in load_feature_list(project).features]
    assert ids[0] == "F0001" and ids[-1] == "F1000"


def test_the_projects_own_fields_are_frozen_like_the_text(project: Path) -> None:

    write(project, FEATURES["claimed"]())

    adopt_feature_list(project)
    features = load_feature_list(project)
    changed = features.model_copy(deep=True)
    assert changed.features[0].extra is not None
    changed.features[0].extra["claimed_by"] = "someone else"
    with pytest.raises(GuardViolation, match="extra of feature F001 changed"):
        save_feature_list(project, changed)
