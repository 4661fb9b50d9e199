"""Features a person adds at the end of feature_list.json (failing) between runs are the
user's own edit: a session's wake keeps them, and so does its writeback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.session.support import feature_list, harness, init, make_project


def _committed(root: Path) -> dict[str, bool]:
    text = subprocess.run(
        ["git", "-C", str(root), "show", "HEAD:feature_list.json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {f["id"]: f["passes"] for f in json.loads(text)["features"]}


def test_a_feature_a_person_added_at_the_end_outlives_the_next_session(tmp_path: Path) -> None:
    """A person appends F003 (failing) by hand, then `harness run`: the session passes F001
    and commits the list with F003 still in it, on disk and in git (it was dropped, with
    "the harness committed its own", when the writeback rebuilt the list from HEAD)."""
    root = make_project(tmp_path / "p", count=2)
    init(root)
    data = feature_list(root)
    added = dict(data["features"][-1], id="F003", description="a person's own feature")
    added["priority"] = max(f["priority"] for f in data["features"]) + 1
    data["features"].append(added)
    (root / "feature_list.json").write_text(json.dumps(data, indent=2) + "\n")

    assert harness(root, "run", "--unattended", "--max-sessions", "1") == 3  # sessions spent
    on_disk = {f["id"]: f["passes"] for f in feature_list(root)["features"]}
    assert on_disk == {"F001": True, "F002": False, "F003": False}
    assert _committed(root) == on_disk
    progress = (root / "progress.md").read_text()
    assert "the harness committed its own" not in progress
