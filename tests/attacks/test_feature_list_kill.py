"""The agent forges feature_list.json and kills the harness before its sentinel can put the
file back: the resumed session restores what harness itself recorded, never the file as
the agent left it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from harness.journal import Journal
from tests.attacks.support import (
    KILL_HARNESS,
    assert_not_complete,
    committed_passing,
    disk_passing,
    forged_list,
    project,
    run,
    runner_for,
    set_turns,
)
from tests.session.support import call, good_turns, harness_proc, older_harness, turn

# The forgery, then SIGKILL to the nearest Python ancestor (the harness: the local runner
# starts commands from its own process), once: the resumed run runs the command again.
KILLER = (
    """\
[ -e .forged ] && { echo already; exit 0; }
cp forged.json feature_list.json
touch .forged
"""
    + KILL_HARNESS
)

# What the agent sees after the resumed run's first live call: how many features pass.
SEEN = "grep -c '\"passes\": true' feature_list.json > seen.txt; echo seen"


@pytest.mark.slow(reason="kills its harness child")  # the killed run is a child process
@pytest.mark.parametrize("recorded_by", ["today", "older"])
def test_a_forgery_a_kill_kept_from_the_sentinel_is_undone_at_the_resume(
    request: pytest.FixtureRequest, tmp_path: Path, recorded_by: str
) -> None:
    """On the local runner (not a sandbox) the agent's command can reach the harness: after
    an honest pass of F001, it marks F002 passing in the file (made-up evidence) and kills
    the harness inside that very tool call, before the restore after it. The resumed
    session's sentinel starts from the feature list harness recorded at the session's
    start (a git object named in the journal) with the session's recorded mark applied
    again, so the forgery is put back at the command's re-run (before, it stood for the
    rest of the session, and only the writeback's own check kept it out of the commit):
    F001 passes on its own evidence, F002 is counted nowhere.

    ``older``: the killed session was journaled by a harness before that record (no
    git/"feature list" step); today's resume starts from HEAD's list instead, unrecorded,
    and replays on (before, it recorded the step anew from the forged file: the forgery
    was what the rest of the session knew, and the session's model calls were paid again)."""

    runner = runner_for("local", request)
    root = project(tmp_path / "p", runner, sessions={1: []}, count=2)
    set_turns(
        root,
        1,
        [
            *good_turns(1)[:3],  # F001 written, verified and marked: an honest pass
            turn(call("write_file", path="forged.json", content=forged_list(root))),
            turn(call("write_file", path="killer.sh", content=KILLER)),
            turn(call("run", command="sh killer.sh")),
            turn(call("run", command=SEEN)),
            {"text": "F001 passes, see feature_list.json."},
        ],
    )
    with older_harness() if recorded_by == "older" else contextlib.nullcontext():
        killed = harness_proc(root, "run", "--unattended")
    assert killed.returncode == -9, killed.stderr
    # the forgery stands (F002 passing on made-up evidence): no restore ran after it
    assert disk_passing(root) == ["F001", "F002"]
    code, report = run(root, tmp_path)
    # put back at the command's re-run, as in a live session: the agent's next command
    # (and the rest of the session) sees the list harness knew, its honest mark kept
    assert (root / "seen.txt").read_text().strip() == "1"
    assert_not_complete(code, report)
    assert report["features_passing"] == 1, report
    assert committed_passing(root) == ["F001"], "the resumed session committed the forgery"
    assert disk_passing(root) == ["F001"]
    evidence = json.loads((root / "feature_list.json").read_text())["features"][0]["evidence"]
    assert (
        evidence["verification"].startswith("journal:") and "forged" not in evidence["verification"]
    )
    with Journal.open_readonly(root / ".harness") as journal:  # the replay went on: no call twice
        rows = journal.steps(include_superseded=True)
    assert [(r.session, r.seq, r.kind, r.name) for r in rows if r.status == "superseded"] == []
