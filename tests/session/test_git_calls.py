"""A run's git: the config check has git read the repository's config once per content of
the config for the whole run, however young its files: every git call of the run, from
the run's start and end to each session's wake, brief, verification and writeback, shares
the run's verdicts (tests/attacks/test_git_host_code.py: a change is still refused)."""

from __future__ import annotations

from pathlib import Path

from tests.session.support import harness, init, make_project, passing


def test_a_run_reads_an_unchanged_config_once(tmp_path: Path, reads: list[Path]) -> None:
    root = make_project(tmp_path / "p", count=3)
    init(root)
    reads.clear()
    assert harness(root, "run") == 0
    assert passing(root) == ["F001", "F002", "F003"]
    assert len(reads) == 1, reads
