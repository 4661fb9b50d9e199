"""`harness init` end to end: the guarded feature list, and a SIGKILL mid-init resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.session.support import (
    call,
    commit_count,
    drafts,
    harness,
    harness_proc,
    head_files,
    init,
    init_commits,
    log_json,
    make_project,
    passing,
    progress_sessions,
    tool_outputs,
    turn,
)


def _reworded() -> list[dict[str, object]]:
    changed = drafts(2)
    changed[1]["description"] = "the file done_b.txt may exist"
    return changed


REWRITES = [
    turn(call("write_feature_list", features=_reworded())),  # reword
    turn(call("write_feature_list", features=drafts(1))),  # delete
    turn(call("write_feature_list", features=drafts(2)[::-1])),  # reorder
]


def test_a_second_write_feature_list_with_changes_is_refused(tmp_path: Path) -> None:
    control = make_project(tmp_path / "control", count=2)
    init(control)
    root = make_project(tmp_path / "p", count=2, init_extra=REWRITES)
    init(root)

    assert (root / "feature_list.json").read_bytes() == (control / "feature_list.json").read_bytes()
    first, *refused = tool_outputs(root, "write_feature_list")
    assert first.startswith("wrote feature_list.json: 2 features")
    assert len(refused) == len(REWRITES)
    assert [o.startswith("error: feature_list.json: at $.features") for o in refused] == [
        True
    ] * len(REWRITES)
    assert "never reworded" in refused[0] and "never removed" in refused[1], refused
    assert "never reworded" in refused[2]  # ids follow the order: a reorder rewords
    features = json.loads((root / "feature_list.json").read_text())["features"]
    assert [f["description"] for f in features] == [d["description"] for d in drafts(2)]


def test_the_same_list_written_twice_is_accepted_unchanged(tmp_path: Path) -> None:
    again = [turn(call("write_feature_list", features=drafts(2)))]
    root = make_project(tmp_path / "p", count=2, init_extra=again)
    init(root)
    assert tool_outputs(root, "write_feature_list")[1] == (
        "feature_list.json already holds these 2 features"
    )


@pytest.mark.slow(reason="kills its harness child")
@pytest.mark.parametrize(
    "crash_in, step",
    [
        ("tool:write_feature_list", ("tool", "write_feature_list")),
        ("tool:write_init_sh", ("tool", "write_init_sh")),
        ("artifact:support-files", ("artifact", "support-files")),
        ("artifact:progress.append", ("artifact", "progress.append")),
        ("git:fresh", ("git", "fresh")),
        ("git:plan", ("git", "plan")),
        ("git:commit", ("git", "commit")),
    ],
)
def test_a_killed_init_resumes(tmp_path: Path, crash_in: str, step: tuple[str, str]) -> None:
    root = make_project(tmp_path / "p", count=2)
    spec = str(root / "SPEC.md")
    crashed = harness_proc(root, "init", "--spec", spec, crash_in=crash_in)
    assert crashed.returncode == -9, crashed.stderr
    if (root / ".git").exists():
        assert init_commits(root) == 0  # the kill came before the first commit

    assert harness(root, "init", "--spec", spec) == 0
    assert init_commits(root) == 1
    assert commit_count(root) == 1
    # the folder was no repository: the resumed init commits the whole project, even
    # when the kill came after its `git init`
    assert {"SPEC.md", "feature_list.json", "progress.md"} <= head_files(root)
    assert progress_sessions(root) == {0: 1}
    assert len(json.loads((root / "feature_list.json").read_text())["features"]) == 2
    assert passing(root) == []
    assert ".harness/" in (root / ".gitignore").read_text().splitlines()
    rows = log_json(root)  # the newest run is the init run
    assert [(r["kind"], r["name"]) for r in rows if r["attempts"] > 1] == [step]
    assert max(r["attempts"] for r in rows) == 2

    # a third init changes nothing; the project then runs to the end
    assert harness(root, "init", "--spec", spec) == 0
    assert init_commits(root) == 1
    assert harness(root, "run") == 0
    assert passing(root) == ["F001", "F002"]
    assert commit_count(root) == 3


def test_an_init_whose_model_wrote_no_init_sh_still_validates(tmp_path: Path) -> None:
    """validate requires init.sh; init agrees: when the model wrote none, harness writes a
    minimal one (executable, committed, said in progress.md) and the project validates."""
    root = make_project(tmp_path / "p", count=1)
    script = json.loads((root / "script.json").read_text())
    turns = script["scenes"][0]["turns"]
    script["scenes"][0]["turns"] = [
        t for t in turns if not any(c["name"] == "write_init_sh" for c in t.get("tool_calls", []))
    ]
    (root / "script.json").write_text(json.dumps(script))
    init(root)
    assert harness(root, "validate") == 0
    assert (root / "init.sh").stat().st_mode & 0o111
    assert "init.sh" in head_files(root)
    progress = (root / "progress.md").read_text()
    assert "no init.sh; harness wrote a minimal init.sh" in progress
    assert harness(root, "run") == 0  # its wake runs it
