"""A command rewrites the journal the evidence rule trusts: a failed verify_feature row
turned into a pass, then the run parks and the resumed run replays the forged row; or
the command simply scribbles over the journal file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import (
    assert_not_complete,
    assert_nothing_passes,
    journal_verifies,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, good_turns, harness, tool_outputs, turn

REWRITE = """\
import json, sqlite3
db = sqlite3.connect('.harness/journal.db')
rows = db.execute(
    "SELECT id, output FROM steps WHERE name = 'verify_feature' AND status = 'ended'"
).fetchall()
for step_id, output in rows:
    result = json.loads(output)
    result['output'] = result['output'].replace('FAILS', 'PASSES').replace(
        'exit code: 1', 'exit code: 0')
    for effect in result['effects']:  # the typed effects of the step (session.effects)
        if effect['kind'] == 'verified':
            effect['exit_code'] = 0
    db.execute('UPDATE steps SET output = ? WHERE id = ?', (json.dumps(result), step_id))
db.commit()
print('forged', len(rows))
"""


@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
def test_a_forged_verification_row_is_not_evidence_after_a_park(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """verify (fails) → rewrite its row with sqlite3 → ask_human (parks) → answer →
    resume replays the row → mark_passing. (Not on Docker: its test image has no Python.)"""
    runner = runner_for(kind, request)
    # Closed on every runner: the HMAC chain refuses the forged row on replay (exit 2).
    turns = [
        turn(call("verify_feature", feature="F001")),  # done_a.txt is missing: FAILS
        turn(call("run", command="python3 rewrite.py")),
        turn(call("ask_human", question="May I go on?", choices=["yes", "no"])),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 passes."},
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns}, files={"rewrite.py": REWRITE})
    first, _ = run(root, tmp_path)
    assert first == 4, "the attack needs the run to park on its question"
    assert harness(root, "answer", "q1", "yes") == 0
    code, report = run(root, tmp_path)
    assert_not_complete(code, report)
    assert_nothing_passes(root)
    forged = any(out.startswith("F001 PASSES") for out in _verify_outputs(root))
    if forged:  # the command could write the journal: the chain must give it away
        assert not journal_verifies(root), "`journal verify` accepts a forged row"


def _verify_outputs(root: Path) -> list[str]:
    try:
        return tool_outputs(root, "verify_feature")
    except Exception:  # a journal that refuses to open is not a forged pass
        return []


SCRIBBLE = (
    "printf 'forged-by-the-agent' | dd of=.harness/journal.db bs=1 seek=8192 conv=notrunc "
    "2>&1; echo dd=$?; rm -f .harness/journal.db-wal; echo rm=$?"
)


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_command_cannot_scribble_over_the_journal(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """In a sandbox the journal is out of the workload's reach: after the command the
    journal still verifies and the honest work that follows is recorded."""
    runner = runner_for(kind, request)

    turns = [turn(call("run", command=SCRIBBLE)), *good_turns(1)]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    assert journal_verifies(root), "the workload damaged the journal"
    assert "dd=0" not in tool_outputs(root, "run")[0], "the journal file was writable"
