"""The controller's rewrite of a test module is the one a worker reads (rewrite_cache.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from tests.rewrite_cache import write_rewritten


def test_the_rewrite_written_once_is_read_by_pytest_and_not_written_again(
    tmp_path: Path, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE
    module = tmp_path / "test_sample.py"
    module.write_text("def test_sum():\n    total = 1 + 1\n    assert total == 3\n")
    assert write_rewritten(pytestconfig, [module]) == 1
    pyc = rewrite.get_cache_dir(module) / ("test_sample" + rewrite.PYC_TAIL)
    code = rewrite._read_pyc(module, pyc)
    assert code is not None  # what a worker's import reads instead of rewriting
    namespace: dict[str, object] = {}
    exec(code, namespace)
    with pytest.raises(AssertionError, match=r"assert 2 == 3"):  # rewritten: the values said
        namespace["test_sum"]()  # type: ignore[operator]
    assert write_rewritten(pytestconfig, [module]) == 0  # valid: left as it is
    module.write_text("def test_sum():\n    assert 1 + 1 == 2\n")
    assert write_rewritten(pytestconfig, [module]) == 1  # the source changed: written again
