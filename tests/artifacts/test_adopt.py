"""Adopting the autonomous-coding quickstart's flat-array feature list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from artifacts.feature_list import load_feature_list
from artifacts.models import ADOPTED

Cli = Callable[..., tuple[int, str, str]]

QUICKSTART = [
    {
        "category": "functional",
        "description": 'User can log in with e-mail and password — ünïcödé, "quotes"\nnewline',
        "steps": ["Step 1: open /login", "Step 2: type credentials", "  spaces kept  "],
        "passes": False,
    },
    {"category": "style", "description": "Dark mode", "steps": [], "passes": True},
    {"category": "functional", "description": "Logout", "steps": ["click"], "passes": False},
]


def write(project: Path, data: object) -> None:
    (project / "feature_list.json").write_text(json.dumps(data, indent=2))


def test_adopt_upgrades_in_place_keeping_every_text(project: Path, cli: Cli) -> None:
    write(project, QUICKSTART)
    code, out, err = cli(project, "adopt")
    assert code == 0, err
    assert "3 features (F001..F003)" in out and "1 passing entry keeps passing" in out
    features = load_feature_list(project)
    assert [f.id for f in features.features] == ["F001", "F002", "F003"]
    assert [f.priority for f in features.features] == [1, 2, 3]
    for old, new in zip(QUICKSTART, features.features, strict=True):
        assert (new.category, new.description, new.steps, new.passes) == (
            old["category"],
            old["description"],
            old["steps"],
            old["passes"],
        )
    adopted = features.features[1].evidence
    assert adopted is not None and adopted.verification == ADOPTED
    assert adopted.exit_code == 0 and adopted.output_digest.startswith("sha256:")
    assert features.features[0].evidence is None
    code, _, err = cli(project, "validate")
    assert code == 0, err


def test_adopt_twice_changes_nothing(project: Path, cli: Cli) -> None:
    write(project, QUICKSTART)
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
    item = {"category": "c", "description": "d", "steps": [], "passes": False}
    write(project, [item] * 1000)
    assert cli(project, "adopt")[0] == 0
    ids = [f.id for f in load_feature_list(project).features]
    assert ids[0] == "F0001" and ids[-1] == "F1000"


def test_adopt_refuses_an_entry_it_would_lose_text_of(project: Path, cli: Cli) -> None:
    write(project, [*QUICKSTART, {**QUICKSTART[2], "notes": "important"}])
    before = (project / "feature_list.json").read_bytes()
    code, _, err = cli(project, "adopt")
    assert code == 2 and "$[3].notes" in err and "lose" in err
    assert (project / "feature_list.json").read_bytes() == before
