"""A worker loads the code a drive runs before it takes drives (fleet.warm): a run driven
after `warm()` imports no module of harness's own, so the first drives of a fresh worker
(a takeover of a lost machine's runs) do not each wait on the import lock. A worker whose
runs' models are made in process (a test's entry) imports no litellm at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fleet.support import Fleet, all_in, scripted_project

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


@pytest.mark.slow  # 6 CPU-s (bench/suite_census.py)
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


POISON = """\
import os, pathlib
pathlib.Path(os.environ["LITELLM_IMPORTED"]).write_text("imported")
raise ImportError("litellm imported by the worker")
"""


@pytest.mark.slow
def test_a_worker_of_in_process_models_never_imports_litellm(fleet: Fleet, tmp_path: Path) -> None:
    """The tests' workers (`tests/session/scripted_child.py` as their entry) drive a run to
    complete without importing litellm: not at warm-up, not in a drive (~4 CPU-s each)."""
    poisoned = tmp_path / "poisoned"
    (poisoned / "litellm").mkdir(parents=True)
    (poisoned / "litellm" / "__init__.py").write_text(POISON)
    mark = tmp_path / "litellm-imported"
    source = scripted_project(tmp_path / "source", latency_s=0.0)
    fleet.submit(source, "one")
    worker = fleet.start_worker(
        "w1", runs=1, env={"PYTHONPATH": str(poisoned), "LITELLM_IMPORTED": str(mark)}
    )
    ended = all_in(("complete", "failed", "budget"))
    (row,) = fleet.wait(lambda rows: ended(rows) or worker.poll() is not None)
    log = (fleet.home / "w1.log").read_text()
    assert not mark.exists(), log[-3000:]
    assert row["state"] == "complete" and row["features"] == {"passing": 2, "total": 2}, log
