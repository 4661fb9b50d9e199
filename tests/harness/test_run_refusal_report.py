"""`harness run --report FILE` writes the report on every exit, also when the run is
refused before it starts (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.artifacts.quickstart_shapes import build
from tests.session.support import harness


def test_a_refused_run_still_writes_its_report(tmp_path: Path) -> None:
    root = build(tmp_path / "qs", "broken")
    report = tmp_path / "report.json"
    assert harness(root, "run", "--unattended", "--report", str(report)) == 2
    data = json.loads(report.read_text())
    assert data["outcome"] == "failed" and data["exit_code"] == 2
    assert "feature_list.json" in data["detail"] and "cannot adopt" in data["detail"]
    assert data["resumable"] is False
