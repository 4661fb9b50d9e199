"""Orient and brief: the feature picked, and a fresh context made only of the artifacts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from artifacts.feature_list import load_feature_list
from artifacts.models import FeatureList, ProgressEntry
from artifacts.progress import append_progress
from runners import CommandResult
from session.brief import build_messages, pick_feature
from tests.session.inproc import feature, make_project


def test_pick_feature_takes_the_lowest_priority_number_that_fails() -> None:
    features = FeatureList(
        features=[feature(1, passes=True), feature(3), feature(2)],
    )
    picked = pick_feature(features)
    assert picked is not None and picked.id == "F002"
    assert pick_feature(FeatureList(features=[feature(1, passes=True)])) is None


def _brief(root: Path, wake: CommandResult | None) -> str:

    features = load_feature_list(root)
    messages = build_messages(
        root, features, features.features[0], session=4, wake=wake, runner="docker"
    )
    assert [m["role"] for m in messages] == ["system", "user"]
    content: str = messages[1]["content"]
    return content


def test_the_kickoff_names_the_feature_the_list_and_the_standing_instructions(
    fast_path: Path,
) -> None:
    root = make_project(fast_path / "p", feature(1), feature(2, check=None))
    (root / "AGENTS.md").write_text("Use tabs.")
    text = _brief(root, None)
    assert "Session 4: Feature F001" in text
    assert "test -f done.txt" in text
    assert "F002" in text and "Use tabs." in text
    assert "init.sh is absent" in text
    assert "git log unavailable" in text  # no repository: said, not raised


def test_a_broken_environment_comes_first(fast_path: Path) -> None:
    root = make_project(fast_path / "p")
    broken = CommandResult(
        command="bash init.sh", exit_code=3, stdout="", stderr="db down", duration_s=0.1
    )
    text = _brief(root, broken)
    assert "ENVIRONMENT BROKEN" in text and "db down" in text
    ok = CommandResult(command="bash init.sh", exit_code=0, stdout="", stderr="", duration_s=0.1)
    assert "smoke test passed" in _brief(root, ok)


def test_the_progress_tail_is_in_the_brief(fast_path: Path) -> None:

    root = make_project(fast_path / "p")
    append_progress(
        root,
        ProgressEntry(
            session=3,
            date=datetime(2026, 12, 1, tzinfo=UTC),
            feature="F001",
            outcome="unfinished",
            summary="half of it",
            next="the other half",
        ),
    )
    text = _brief(root, None)
    assert "half of it" in text and "the other half" in text
