"""Fixtures: a small project with protocol files, built through the artifacts API."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from artifacts.feature_list import dump_feature_list
from artifacts.models import Evidence, Feature, FeatureList, ProgressEntry
from artifacts.progress import render_progress


def make_features(total: int, passing: int) -> FeatureList:
    """`total` features, the first `passing` of them passing with evidence."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    features = []
    for i in range(total):
        passes = i < passing
        evidence = (
            Evidence(verification=f"journal:r/1/{i}", at=at, exit_code=0, output_digest="sha256:0")
            if passes
            else None
        )
        features.append(
            Feature(
                id=f"F{i + 1:03d}",
                category="functional" if i % 2 else "style",
                description=f"feature number {i + 1} does thing {'alpha' if i % 3 else 'beta'}",
                steps=["run it"],
                priority=i,
                passes=passes,
                evidence=evidence,
            )
        )
    return FeatureList(features=features)


def write_project(root: Path, total: int = 6, passing: int = 2) -> Path:
    """Write feature_list.json and progress.md (one entry per passing feature)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "feature_list.json").write_text(dump_feature_list(make_features(total, passing)))
    entries = [
        ProgressEntry(
            session=i + 1,
            date=datetime(2025, 1, 1 + i, tzinfo=UTC),
            feature=f"F{i + 1:03d}",
            outcome="passing",
            summary="did it",
            next="the next one",
        )
        for i in range(passing)
    ]
    (root / "progress.md").write_text(render_progress(entries))
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with 6 features, 2 passing, and 2 progress entries."""
    return write_project(tmp_path / "proj")
