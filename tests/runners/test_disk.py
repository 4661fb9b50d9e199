"""The workspace budget: counted in blocks on disk, and only when it could be exceeded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runners import disk
from runners.disk import DiskBudget, workspace_bytes

MB = 1024 * 1024


def _write(path: Path, megabytes: int) -> None:
    with path.open("wb") as handle:
        for _ in range(megabytes):
            handle.write(os.urandom(MB))
        handle.flush()
        os.fsync(handle.fileno())


def test_blocks_on_disk_are_counted_not_apparent_sizes(tmp_path: Path) -> None:
    _write(tmp_path / "real.bin", 2)
    with (tmp_path / "sparse.bin").open("wb") as handle:
        handle.truncate(500 * MB)
    (tmp_path / ".git").mkdir()
    _write(tmp_path / ".git" / "pack.bin", 3)  # the harness's, not the workload's
    used = workspace_bytes(tmp_path)
    assert 2 * MB <= used < 3 * MB


def test_a_check_counts_again_only_when_the_budget_could_be_exceeded(tmp_path: Path) -> None:
    budget = DiskBudget(tmp_path, 1000)
    assert budget.check() is None and budget.counts == 1
    for _ in range(5):  # nothing close to 1000 MB written: no count
        assert budget.check() is None
    assert budget.counts == 1
    budget.disk_mb = 3  # what is left (3 MB minus the count) is less than the file below
    _write(tmp_path / "a.bin", 4)
    failure = budget.check()
    assert budget.counts == 2
    assert failure is not None and failure.kind == "disk" and failure.limit == "disk_mb=3"
    assert "4 MB of it on disk" in failure.message
    assert budget.check() is not None and budget.counts == 3  # over: counted every time
    (tmp_path / "a.bin").unlink()
    assert budget.check() is None


def test_growth_the_file_system_does_not_show_is_caught_by_the_periodic_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Space another program frees while the workload writes hides the growth from the
    shortcut; the full count every RECOUNT_EVERY checks still finds it."""
    free = [10_000 * MB]
    monkeypatch.setattr(disk, "_free_bytes", lambda root: free[0])
    budget = DiskBudget(tmp_path, 3)
    assert budget.check() is None
    _write(tmp_path / "a.bin", 4)  # the mocked file system shows no loss
    results = [budget.check() for _ in range(disk.RECOUNT_EVERY)]
    assert all(result is None for result in results[:-1])
    assert results[-1] is not None and results[-1].kind == "disk"


def test_no_budget_never_counts(tmp_path: Path) -> None:
    budget = DiskBudget(tmp_path, None)
    assert budget.check() is None and budget.counts == 0
