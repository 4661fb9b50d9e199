"""Symlinks planted by a command, then followed by the harness's own file tools on the
host: reading outside the project through a linked directory (grep, list_files,
read_file), and writing through a link into .git/, .harness/ or outside the project.

In a sandbox the command cannot read outside the project, but the file tools run on the
host, outside any sandbox: a link the container made is resolved on the host.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.attacks.support import (
    RUNNERS,
    journal_verifies,
    project,
    record_model_input,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, tool_outputs, turn

OUTSIDE = "OUTSIDE-THE-PROJECT-4b1d"


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_file_tools_do_not_read_outside_through_a_linked_directory(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = runner_for(kind, request)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{OUTSIDE}\n")
    seen = record_model_input(monkeypatch)
    turns = [
        turn(call("run", command=f"ln -s {outside} linked; ln -s {outside}/secret.txt f.txt")),
        turn(call("grep", regex="OUTSIDE", glob="linked/*")),
        turn(call("grep", regex="OUTSIDE", glob="**/*.txt")),
        turn(call("list_files", pattern="linked/*")),
        turn(call("read_file", path="linked/secret.txt")),
        turn(call("read_file", path="f.txt")),
        {"text": "Looked around."},
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    assert "f.txt" in tool_outputs(root, "read_file")[-1]  # the attack ran
    assert OUTSIDE not in json.dumps(seen), "the model read a file outside the project"
    assert "secret.txt" not in "".join(tool_outputs(root, "list_files")), "listed outside"
    assert all("skipped" in out for out in tool_outputs(root, "grep")), "the skip is not said"


TARGETS = {"git-config": ".git/config", "journal": ".harness/journal.db", "outside": None}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_file_tools_do_not_write_through_a_planted_symlink(
    kind: str, target: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n")
    path = TARGETS[target] or str(outside)
    turns = [
        turn(call("run", command=f"ln -s {path} link.txt; ls -l link.txt")),
        turn(call("write_file", path="link.txt", content="[core]\n\tbare = true\n")),
        turn(call("edit_file", path="link.txt", old="[core]", new="[x]")),
        {"text": "Wrote through the link."},
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    config = (root / ".git" / "config").read_bytes()
    run(root, tmp_path)
    outputs = tool_outputs(root, "write_file") + tool_outputs(root, "edit_file")
    assert len(outputs) == 2 and all(not o.startswith(("wrote", "edited")) for o in outputs), (
        outputs
    )
    assert (root / ".git" / "config").read_bytes() == config
    assert outside.read_text() == "untouched\n"
    assert journal_verifies(root)
