"""Guards: only legal feature-list transitions pass; save_feature_list always runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from artifacts.feature_list import load_feature_list, save_feature_list
from artifacts.guards import check_transition
from artifacts.models import ADOPTED, Evidence, Feature, FeatureList
from harness.errors import GuardViolation

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def evidence(
    at: datetime = T0, exit_code: int = 0, verification: str = "journal:r/1/3"
) -> Evidence:
    return Evidence(
        verification=verification, at=at, exit_code=exit_code, output_digest="sha256:ab"
    )


def feature(n: int, **changes: object) -> Feature:
    base = Feature(
        id=f"F{n:03d}",
        category="functional",
        description=f"thing {n}",
        steps=["do it"],
        priority=n,
        check="true",
    )
    return base.model_copy(update=changes)


def flist(*features: Feature) -> FeatureList:
    return FeatureList(features=list(features))


OLD = flist(feature(1), feature(2), feature(3, passes=True, evidence=evidence()))


def raw(*features: Feature) -> FeatureList:
    """A list that skips the model's own checks, as a buggy caller could build."""
    return FeatureList.model_construct(version=1, features=list(features))


def violation(old: FeatureList | None, new: FeatureList) -> GuardViolation:
    with pytest.raises(GuardViolation) as caught:
        check_transition(old, new)
    return caught.value


def test_unchanged_is_legal() -> None:
    check_transition(OLD, OLD.model_copy(deep=True))


def test_passing_with_evidence_is_legal() -> None:
    check_transition(
        OLD, flist(feature(1, passes=True, evidence=evidence()), feature(2), OLD.features[2])
    )


def test_regression_clears_evidence_and_is_legal() -> None:
    check_transition(OLD, flist(feature(1), feature(2), feature(3)))


def test_adding_at_the_end_is_legal() -> None:
    check_transition(OLD, flist(*OLD.features, feature(4)))


def test_removed() -> None:
    error = violation(OLD, flist(feature(1), feature(2)))
    assert "removed: F003" in error.why


def test_reordered() -> None:
    error = violation(OLD, flist(feature(2), feature(1), OLD.features[2]))
    assert error.where == "$.features[0].id" and "reordered" in error.why


def test_replaced_by_another_id() -> None:
    error = violation(OLD, flist(feature(1), feature(9), OLD.features[2]))
    assert "F002 was removed" in error.why


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("category", "ui"),
        ("description", "thing 1!"),
        ("steps", ["do it", "more"]),
        ("priority", 7),
        ("check", "false"),
        ("check", None),
    ],
)
def test_frozen_fields(field: str, value: object) -> None:
    error = violation(OLD, flist(feature(1, **{field: value}), feature(2), OLD.features[2]))
    assert error.where == f"$.features[0].{field}"
    assert "changed" in error.why


def test_duplicate_ids() -> None:
    dup = FeatureList.model_construct(version=1, features=[*OLD.features, feature(2)])
    assert "duplicate id" in violation(OLD, dup).why


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (None, "without evidence"),
        (evidence(exit_code=1), "exit code 1"),
        (evidence(verification=ADOPTED), "harness adopt"),
    ],
)
def test_passing_needs_real_evidence(bad: Evidence | None, reason: str) -> None:
    new = raw(
        feature(1).model_copy(update={"passes": True, "evidence": bad}), feature(2), OLD.features[2]
    )
    assert reason in violation(OLD, new).why


def test_blank_digest_is_refused() -> None:
    blank = Evidence(verification="journal:r/1/1", at=T0, exit_code=0, output_digest=" ")
    new = flist(feature(1, passes=True, evidence=blank), feature(2), OLD.features[2])
    assert "digest" in violation(OLD, new).why


def test_still_passing_evidence_only_newer() -> None:
    newer = flist(
        feature(1), feature(2), feature(3, passes=True, evidence=evidence(T0 + timedelta(1)))
    )
    check_transition(OLD, newer)
    older = flist(
        feature(1), feature(2), feature(3, passes=True, evidence=evidence(T0 - timedelta(1)))
    )
    assert "older evidence" in violation(OLD, older).why


def test_failing_with_evidence_is_refused() -> None:
    bad = feature(3).model_copy(update={"evidence": evidence()})  # skips the model's check
    assert "keeps evidence" in violation(OLD, raw(feature(1), feature(2), bad)).why


def test_added_feature_passing_needs_evidence() -> None:
    added = feature(4).model_copy(update={"passes": True})
    assert "without evidence" in violation(OLD, raw(*OLD.features, added)).why


def test_new_file_starts_all_failing() -> None:
    check_transition(None, flist(feature(1), feature(2)))
    assert "new feature list" in violation(None, OLD).why


def test_new_file_from_adopt_may_keep_adopted_passing() -> None:
    adopted = flist(feature(1, passes=True, evidence=evidence(verification=ADOPTED)))
    check_transition(None, adopted, adopting=True)
    with pytest.raises(GuardViolation):
        check_transition(None, adopted)


def test_save_runs_the_guard_and_leaves_the_file(project: Path) -> None:
    before = (project / "feature_list.json").read_bytes()
    current = load_feature_list(project)
    shorter = FeatureList(features=current.features[:-1])
    with pytest.raises(GuardViolation):
        save_feature_list(project, shorter)
    assert (project / "feature_list.json").read_bytes() == before


def test_save_writes_a_legal_change(project: Path) -> None:
    current = load_feature_list(project)
    third = current.features[2].model_copy(update={"passes": True, "evidence": evidence()})
    changed = FeatureList(features=[*current.features[:2], third, *current.features[3:]])
    save_feature_list(project, changed)
    assert load_feature_list(project) == changed


def test_save_new_file_refuses_passing(tmp_path: Path) -> None:
    with pytest.raises(GuardViolation):
        save_feature_list(tmp_path, OLD)
    assert not (tmp_path / "feature_list.json").exists()
    save_feature_list(tmp_path, flist(feature(1)))
    assert load_feature_list(tmp_path) == flist(feature(1))


def test_save_never_overwrites_an_invalid_file(project: Path) -> None:
    (project / "feature_list.json").write_text('{"version": 1, "features": [}')
    with pytest.raises(Exception, match="not valid JSON"):
        save_feature_list(project, flist(feature(1)))
    assert (project / "feature_list.json").read_text() == '{"version": 1, "features": [}'
