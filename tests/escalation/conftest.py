"""Fixtures: a question store in a temporary project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from escalation.questions import QuestionStore


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def store(project: Path) -> Iterator[QuestionStore]:
    with QuestionStore(project / ".harness") as opened:
        yield opened
