"""A quickstart project adopted and run: progress kept verbatim, .harness/ never in git,
adopted features re-verified (a human's approval, or their check) before "complete"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from artifacts.models import ADOPTED
from artifacts.progress import read_progress
from tests.session.support import harness, harness_out, make_project

NOTES = "Session 1 (quickstart):\n- built the login page\n- `npm test` passes\n\n## not a header\n"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def quickstart(root: Path, passes: list[bool]) -> Path:
    make_project(root, count=min(3, len(passes)))
    (root / "feature_list.json").write_text(
        json.dumps(
            [
                {
                    "category": "functional",
                    "description": f"feature number {k}",
                    "steps": [f"step {k}"],
                    "passes": ok,
                }
                for k, ok in enumerate(passes, start=1)
            ],
            indent=2,
        )
    )
    (root / "claude-progress.txt").write_text(NOTES)
    (root / "app_spec.txt").write_text("<project_specification>tiny</project_specification>\n")
    (root / "init.sh").write_text("#!/usr/bin/env bash\necho ok\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "quickstart")
    return root


def test_adopt_then_run_reverifies_by_approval_and_keeps_state_out_of_git(
    tmp_path: Path,
) -> None:

    root = quickstart(tmp_path / "qs", [True, True])
    (root / "harness.toml").unlink()
    _git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qam", "no toml")
    # a harness.toml with this project's scripted model and the local runner
    make_project(root, count=1)
    (root / "feature_list.json").write_text(_git(root, "show", "HEAD:feature_list.json"))
    code, out = harness_out(root, "adopt")
    assert code == 0, out
    assert "verbatim" in out and "app_spec.txt" in out
    assert (root / "app_spec.txt").exists() and (root / "claude-progress.txt").exists()
    entries = read_progress(root)
    assert entries[0].session == 0 and entries[0].summary == NOTES  # verbatim
    assert ".harness/" in (root / ".gitignore").read_text().splitlines()
    assert harness(root, "validate") == 0
    assert _git(root, "status", "--porcelain", "--", "progress.md", "feature_list.json") == ""

    # unattended: one approval for both, the run parks, nothing is "complete"
    code, out = harness_out(root, "run", "--unattended", "--report", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == 4 and report["outcome"] == "waiting_for_human"
    assert "harness approve q1" in report["detail"]
    code, out = harness_out(root, "questions", "--json")
    pending = json.loads(out)
    assert [(q["kind"], q["choices"]) for q in pending] == [("approval", ["F001", "F002"])]
    code, out = harness_out(root, "approve", pending[0]["id"], "--json")
    assert code == 0 and json.loads(out)["status"] == "approved"
    assert json.loads(out)["approved"] == ["F001", "F002"]
    code = harness(root, "run", "--unattended", "--report", str(tmp_path / "done.json"))
    features = json.loads((root / "feature_list.json").read_text())["features"]
    assert all(f["passes"] for f in features)
    assert all(f["evidence"]["verification"].startswith("human:q") for f in features)
    assert code == 0
    # complete, and says on what: no check of theirs ran on the final commit (issue 23)
    said = "all 2 features pass; F001, F002 pass on a human's approval alone (no check to run)"
    assert json.loads((tmp_path / "done.json").read_text())["detail"] == said
    code, out = harness_out(root, "run", "--unattended")
    assert code == 0 and f"nothing to do (no run started): {said}" in out, out
    assert not [p for p in _git(root, "ls-files").splitlines() if p.startswith(".harness")]
    assert "Harness-Reverify" in _git(root, "log", "-1", "--format=%B", "--", "feature_list.json")


def test_an_adopted_feature_with_a_check_is_rerun_and_a_failing_one_turns_failing(
    tmp_path: Path,
) -> None:

    root = quickstart(tmp_path / "qs", [True, True])
    assert harness(root, "adopt") == 0
    data = json.loads((root / "feature_list.json").read_text())
    # as if the user had given the adopted features checks (before any run)
    data["features"][0]["check"] = "test -f app_spec.txt"
    data["features"][1]["check"] = "test -f done_b.txt"  # not true yet
    (root / "feature_list.json").write_text(json.dumps(data, indent=2))
    _git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qam", "checks")
    code, out = harness_out(root, "run", "--unattended", "--report", str(tmp_path / "r.json"))
    assert code == 0, out
    features = json.loads((root / "feature_list.json").read_text())["features"]
    first = features[0]["evidence"]["verification"]
    assert first.startswith("journal:") and first.endswith("/0/1") and first != ADOPTED
    assert features[0]["evidence"]["tree"]  # re-run on a clean checkout of HEAD
    # F002's check failed at re-verification: it turned failing, session 1 made it pass
    assert features[1]["evidence"]["session"] == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert [s["feature"] for s in report["sessions"]] == ["F002"]
    assert report["proofs"]["F001"] == ["check", "clean"]
    assert (root / "done_b.txt").exists()


def test_a_run_never_calls_an_unverified_adoption_complete(tmp_path: Path) -> None:
    root = quickstart(tmp_path / "qs", [True])
    assert harness(root, "adopt") == 0
    code = harness(root, "run", "--unattended")
    assert code == 4  # waits for the human's approval, not 0


def test_three_hundred_adopted_features_are_one_decision_and_a_pick_denies_the_rest(
    tmp_path: Path,
) -> None:
    """305 adopted passing entries without checks: one question; approving F001..F300
    keeps those passing (evidence citing the answer) and turns the other five failing."""
    root = quickstart(tmp_path / "qs", [True] * 305)
    assert harness(root, "adopt") == 0
    code, out = harness_out(root, "run", "--unattended", "--max-sessions", "1")
    assert code == 4, out
    pending = json.loads(harness_out(root, "questions", "--json")[1])
    assert len(pending) == 1 and len(pending[0]["choices"]) == 305
    assert "305 features (F001..F305)" in pending[0]["text"]
    code, out = harness_out(root, "approve", pending[0]["id"], "--only", "F001..F300")
    assert code == 0 and "approved 300 of 305" in out, out
    code, out = harness_out(root, "run", "--unattended", "--max-sessions", "1")
    features = json.loads((root / "feature_list.json").read_text())["features"]
    kept = [f["id"] for f in features if f["passes"]]
    assert len(kept) == 300 and kept[-1] == "F300"
    assert {f["evidence"]["verification"] for f in features if f["passes"]} == {
        f"human:{pending[0]['id']}"
    }
    assert [f["id"] for f in features if not f["passes"]] == [f"F{k}" for k in range(301, 306)]
    assert harness(root, "validate") == 0
