"""The suite's own collection rules (tests/conftest.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.conftest import pytest_collection_modifyitems


def item(nodeid: str, *markers: str) -> Any:
    marks = {name: getattr(pytest.mark, name).mark for name in markers}
    return SimpleNamespace(nodeid=nodeid, get_closest_marker=marks.get)


def test_slow_tests_are_handed_out_first_each_file_in_its_order() -> None:
    items = [item("a::1"), item("a::2", "slow"), item("b::1"), item("b::2", "slow")]
    pytest_collection_modifyitems(cast(list[pytest.Item], items))
    assert [i.nodeid for i in items] == ["a::2", "b::2", "a::1", "b::1"]


def test_a_test_counting_on_an_xdist_group_is_refused_saying_why() -> None:
    items = [item("a::1"), item("a::2", "xdist_group")]
    with pytest.raises(pytest.UsageError) as refused:
        pytest_collection_modifyitems(cast(list[pytest.Item], items))
    assert str(refused.value).startswith("a::2: @pytest.mark.xdist_group does not keep")
    assert "pytest 9" in str(refused.value)
