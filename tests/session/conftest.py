"""Fixtures of the session tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SHM = Path("/dev/shm")


@pytest.fixture
def fast_path(tmp_path: Path) -> Iterator[Path]:
    """A temporary folder in memory (tmpfs) where there is one, else `tmp_path`: the unit
    tests' real SQLite journals and git repositories then cost no disk syncs."""
    if not (SHM.is_dir() and shutil.disk_usage(SHM).free > 256 * 2**20):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="harness-test-", dir=SHM))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
