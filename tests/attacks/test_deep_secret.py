"""A secret file the walk for secrets could not reach: the harness looked for `.env`
files by path and passed over a folder it could not open, so a user's `.env` 5,000 bytes
deep (past PATH_MAX: opening that folder by its path fails with ENAMETOOLONG) was not
covered, and a command read it with `find -execdir` (which never names the whole path).

Outcomes: the key is in no command output, no commit, no message the model was sent;
the attack ran; the user's file is untouched. Only on bubblewrap: the walk is the same
for Docker (tests/runners/test_find_hidden.py), but its test image's busybox `find` cannot
go past PATH_MAX, so no command there could read the file in the first place.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.support import (
    git_out,
    plant_deep,
    project,
    record_model_input,
    run,
    runner_for,
)
from tests.session.support import call, tool_outputs, turn

KEY = "CanaryDeepSecretPassword0123456789"  # no pattern the redaction knows
LEVELS = 25  # 5,000 bytes below data/
ATTACK = "find . -name .env -execdir cat {} \\; ; echo attack$((1+1))ed"


@pytest.fixture
def cleared(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, its deep tree removed with `rm -rf` (pytest's rmtree recurses)."""
    yield tmp_path
    subprocess.run(["rm", "-rf", str(tmp_path / "p")], check=False)


def _plant(root: Path) -> None:
    """The user's `.env` at the bottom of a deep folder, made one name at a time."""
    (root / "data").mkdir()
    plant_deep(root / "data", LEVELS, ".env", f"DATABASE_PASSWORD={KEY}\n".encode())


def test_a_secret_past_path_max_is_not_shown_to_commands(
    request: pytest.FixtureRequest, cleared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = runner_for("bwrap", request)
    seen = record_model_input(monkeypatch)
    turns = [turn(call("run", command=ATTACK)), {"text": "Looked around."}]
    root = project(cleared / "p", runner, sessions={1: turns})
    with (root / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("data/\n")  # the user's data folder is not in git
    _plant(root)
    run(root, cleared)
    outputs = tool_outputs(root, "run")
    assert outputs and "attack2ed" in outputs[0], outputs  # the attack ran
    assert KEY not in outputs[0], "a command read the deep .env"
    assert KEY not in json.dumps(seen), "the model was sent the key"
    history = git_out(root, "log", "-p", "--all", "--binary")
    assert KEY not in history
    found = subprocess.run(
        ["find", str(root / "data"), "-name", ".env", "-execdir", "cat", "{}", ";"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert KEY in found.stdout  # the user's file is still there, unchanged
