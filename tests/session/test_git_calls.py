"""A run's git: the config check has git read the repository's config once per content of
the config for the whole run, however young its files: every git call of the run, from
the run's start and end to each session's wake, brief, verification and writeback, shares
the run's verdicts (tests/attacks/test_git_host_code.py: a change is still refused)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from session import cycle
from tests.session.support import harness, init, make_project, passing


def test_a_run_reads_an_unchanged_config_once(tmp_path: Path, reads: list[Path]) -> None:
    root = make_project(tmp_path / "p", count=3)
    init(root)
    reads.clear()
    assert harness(root, "run") == 0
    assert passing(root) == ["F001", "F002", "F003"]
    assert len(reads) == 1, reads


def test_a_replayed_wake_asks_git_nothing_about_init_sh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether init.sh may use the setup network (a `git status` and a `git log`) is asked
    only when its step runs: a resumed session replays the wake's recorded result."""
    asks = [
        {"tool_calls": [{"name": "ask_human", "arguments": {"question": "Which colour?"}}]},
        {"text": "waiting"},
    ]
    root = make_project(tmp_path / "p", count=1, sessions={1: asks})
    init(root)
    asked: list[Path] = []
    real = cycle.init_sh_trusted

    def counting(where: Path, **kwargs: Any) -> bool:
        asked.append(where)
        return real(where, **kwargs)

    monkeypatch.setattr(cycle, "init_sh_trusted", counting)
    assert harness(root, "run", "--unattended") == 4  # parked at its question
    assert len(asked) == 1  # the live wake
    assert harness(root, "run", "--unattended") == 4  # session 1 replayed to its question
    assert len(asked) == 1
