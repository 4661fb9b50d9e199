"""A mark whose evidence holds a secret (the journal keeps it redacted), then a kill: the
resumed session keeps the evidence the mark wrote, as a run never killed does; a forgery
of that evidence the agent's command made before the kill is still put back.

The feature's check holds the value of a secret-named variable of the run's environment
(a key the user set after init): the journal records the mark's evidence with
``[REDACTED:DEV_API_KEY]`` in its command, the file holds the command as it ran.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.support import (
    KILL_HARNESS,
    committed_passing,
    disk_passing,
    project,
    runner_for,
    set_turns,
)
from tests.session.support import call, good_turns, harness_proc, turn

SECRET = "local-dev-key-4242"
ENV = {"DEV_API_KEY": SECRET}
CHECK = f"test -f done_a.txt && test {SECRET} != ''"
FORGED = "sha256:" + "f" * 64

# After the mark: the evidence's digest forged in the file (its command kept), then the
# harness killed, once.
FORGE_AND_KILL = (
    f"""\
[ -e .forged ] && {{ echo already; exit 0; }}
python3 -c '
import json
data = json.load(open("feature_list.json"))
data["features"][0]["evidence"]["output_digest"] = "{FORGED}"
json.dump(data, open("feature_list.json", "w"), indent=2)
'
touch .forged
"""
    + KILL_HARNESS
)


def evidence(data: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(data)["features"][0]["evidence"]
    return found


@pytest.mark.slow(reason="kills its harness child")  # the killed run is a child process
@pytest.mark.parametrize("agent", ["honest", "forger"])
def test_a_mark_whose_evidence_the_journal_redacted_resumes_as_written(
    request: pytest.FixtureRequest, tmp_path: Path, agent: str
) -> None:
    runner = runner_for("local", request)
    root = project(tmp_path / "p", runner, sessions={1: []}, checks=[CHECK])
    if agent == "honest":
        set_turns(root, 1, good_turns(1))
        killed = harness_proc(root, "run", "--unattended", env=ENV, crash_in="tool:note")
    else:
        turns = [
            *good_turns(1)[:3],  # written, verified, marked
            turn(call("write_file", path="forge.sh", content=FORGE_AND_KILL)),
            turn(call("run", command="sh forge.sh")),
            *good_turns(1)[3:],
        ]
        set_turns(root, 1, turns)
        killed = harness_proc(root, "run", "--unattended", env=ENV)
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = harness_proc(root, "run", "--unattended", env=ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    on_disk = evidence((root / "feature_list.json").read_text())
    at_head = evidence(
        subprocess.run(
            ["git", "-C", str(root), "show", "HEAD:feature_list.json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert disk_passing(root) == committed_passing(root) == ["F001"]
    assert on_disk == at_head
    assert on_disk["output_digest"] != FORGED  # a forgery is put back either way
    if agent == "honest":
        # What the mark wrote, as a run never killed commits it (before: the journal's
        # redacted command replaced it, "test -f done_a.txt && test [REDACTED:...]").
        assert on_disk["command"] == CHECK, on_disk
        progress = (root / "progress.md").read_text()
        assert "not the one the harness wrote" not in progress
