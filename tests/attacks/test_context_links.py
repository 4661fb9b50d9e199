"""A sandboxed command links AGENTS.md to a file of the host (a link is only a name:
its target need not exist in the sandbox). The next session's brief is built by the
harness, on the host, from AGENTS.md: it must not read through the link and hand the
host's file to the model. Nor a huge sparse AGENTS.md read whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attacks.support import project, record_model_input, run, runner_for, runner_params
from tests.session.support import call, good_turns, turn

CANARY = "HOST-FILE-CANARY-77731"


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_agents_md_linked_to_a_host_file_is_not_read_into_the_brief(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = runner_for(kind, request)
    host = tmp_path / "host-secret.txt"
    host.write_text(CANARY + "\n")
    plant = f"ln -s {host} AGENTS.md; ls -l AGENTS.md"
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: [turn(call("run", command=plant)), *good_turns(1)], 2: good_turns(2)},
        count=2,
        toml="[budgets]\nrun_sessions = 2\n",
    )
    seen = record_model_input(monkeypatch)
    code, report = run(root, tmp_path)
    assert code == 0 and report.get("outcome") == "complete", report  # session 2 ran
    assert (root / "AGENTS.md").is_symlink()
    assert CANARY not in json.dumps(seen), "a host file reached the model's context"
