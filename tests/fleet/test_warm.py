"""A worker loads the code a drive runs before it takes drives (fleet.warm): a run driven
after `warm()` imports no module of harness's own, so the first drives of a fresh worker
(a takeover of a lost machine's runs) do not each wait on the import lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fleet.support import scripted_project

OWN = ("artifacts", "escalation", "fleet", "harness", "initializer", "runners", "session")

DRIVE_AFTER_WARM = r"""
import contextlib, io, json, sys
from pathlib import Path

from fleet.warm import warm

warm()
before = set(sys.modules)
from harness.config import load_config
from session.run import run_project

root = Path(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    report = run_project(root, load_config(root), unattended=True)
print(json.dumps({"outcome": report.outcome, "new": sorted(set(sys.modules) - before)}))
"""


def test_a_run_after_warm_imports_no_module_of_harness(tmp_path: Path) -> None:
    root = scripted_project(tmp_path / "project", latency_s=0.0)
    done = subprocess.run(
        [sys.executable, "-c", DRIVE_AFTER_WARM, str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["outcome"] == "complete", done.stderr[-3000:]
    late = [m for m in found["new"] if m.split(".")[0] in OWN]
    assert late == [], f"imported by the drive, not by fleet.warm: {late}"
