"""Plain escapes from a sandboxed command: write or read host files outside the project,
reach the Docker socket, see or signal the harness's own process.

Not on the local runner: it is not a sandbox (its commands run as the user, anywhere).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from tests.attacks.support import project, run, runner_for, runner_params
from tests.session.support import call, tool_outputs, turn

SECRET = "HOST-ONLY-CONTENT-91c2"


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_sandboxed_command_reaches_nothing_outside_the_project(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET}\n")
    marker = tmp_path / "MARKER-escape"
    home_marker = Path.home() / f".harness-attack-{os.getpid()}-{tmp_path.name}"
    commands = [
        f"touch {marker}; touch {home_marker}; touch {outside}/written; echo touched",
        f"cat {outside}/secret.txt; cat ../outside/secret.txt; cat ../../outside/secret.txt",
        "ls -l /var/run/docker.sock /run/docker.sock 2>&1; echo sock-done",
        f"kill -0 {os.getpid()} && echo HARNESS-''VISIBLE; echo signal-done",
    ]
    turns = [turn(call("run", command=c)) for c in commands] + [{"text": "Explored."}]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    try:
        run(root, tmp_path)
    finally:
        home_marker.unlink(missing_ok=True)
    outputs = tool_outputs(root, "run")
    assert len(outputs) == len(commands), outputs  # every attack ran
    assert not marker.exists(), "a command wrote outside the project"
    assert not (outside / "written").exists(), "a command wrote outside the project"
    assert SECRET not in "".join(outputs), "a command read a host file outside the project"
    assert "srw" not in outputs[2], "the Docker socket is reachable"
    assert "HARNESS-VISIBLE" not in outputs[3], "a command can signal the harness's process"


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_sandboxed_command_cannot_read_the_journal_key(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key that chains the journal lives outside the project; a command that finds
    it could sign forged rows. (On the local runner it can: not a sandbox.)"""
    runner = runner_for(kind, request)
    try:
        keys = importlib.import_module("harness.journal.keys")
    except ImportError:
        pytest.skip("the journal's HMAC key store (harness/journal/keys.py) is not here yet")
    state = tmp_path / "state"
    monkeypatch.setenv("HARNESS_STATE_HOME", str(state))
    probe = (
        f"cat {state}/keys/*.key 2>&1; cat $HOME/.local/state/harness/keys/*.key 2>&1; echo probed"
    )
    turns = [turn(call("run", command=probe)), {"text": "Looked for keys."}]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    found = [p for p in keys.state_home().glob("keys/*.key")]
    assert found, "no journal key was made: nothing to steal"
    output = tool_outputs(root, "run")[0]
    assert "probed" in output
    for path in found:
        assert path.read_text().strip() not in output, "the command read the journal key"
