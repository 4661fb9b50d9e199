"""No process of a session survives into writeback, on the bwrap and the local runner.

A scripted session starts background writers (one in a new session, as a daemon would)
that keep appending to a file in the project, then finishes its feature honestly. After
`harness run`, nothing writes the file any more and the commit holds its final bytes:
the runner stopped every process of the session before the writeback.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.journal import Journal
from runners.bwrap import bwrap_version
from tests.conftest import git
from tests.session.support import call, good_turns, harness, init, make_project, passing, turn

WRITERS = (
    "(while :; do date +%N >> beat.txt; sleep 0.05; done) >/dev/null 2>&1 & "
    "setsid sh -c 'while :; do date +%N >> beat.txt; sleep 0.05; done' >/dev/null 2>&1 & "
    "sleep 0.2; echo started"
)


@pytest.mark.parametrize("kind", ["bwrap", "local"])
def test_background_writers_are_gone_before_the_commit(kind: str, tmp_path: Path) -> None:
    if kind == "bwrap" and bwrap_version() is None:
        pytest.skip("bubblewrap cannot run here (bwrap missing or user namespaces disabled)")
    turns = [turn(call("run", command=WRITERS)), *good_turns(1)]
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    toml = root / "harness.toml"
    toml.write_text(toml.read_text().replace('kind = "local"', f'kind = "{kind}"'))
    init(root)
    report = root / "report.json"
    assert harness(root, "run", "--unattended", "--report", str(report)) == 0
    assert passing(root) == ["F001"]

    beat = root / "beat.txt"
    final = beat.read_bytes()
    time.sleep(0.5)
    assert beat.read_bytes() == final  # nothing writes after the run
    assert git(root, "show", "HEAD:beat.txt").encode() == final  # the commit has those bytes

    described = json.loads(report.read_text())["runner"]
    expected = "bwrap sandbox (bubblewrap" if kind == "bwrap" else "local runner (NOT a sandbox)"
    assert described.startswith(expected)
    with Journal.open_readonly(root / ".harness") as journal:
        meta = journal.runs()[-1].meta["runner"]
    assert meta == {"name": kind, "sandboxed": kind == "bwrap", "description": described}
