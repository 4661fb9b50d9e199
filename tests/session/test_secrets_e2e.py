"""No secret reaches the journal, the question store, progress.md, the logs or git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.session.support import call, fid, harness_proc, init, make_project, turn

CANARY_KEY = "sk-canaryA1b2C3d4E5f6G7h8J9k0"
CANARY_TOKEN = "ghp_canary0123456789abcdefghijklmnopqrstu"


def test_canaries_stay_out_of_every_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    monkeypatch.setenv("MY_SERVICE_TOKEN", CANARY_TOKEN)
    turns = [
        # The model echoes the key into a command, a note and its final words.
        turn(call("run", command=f"echo key={CANARY_KEY} token=$MY_SERVICE_TOKEN")),
        turn(call("write_file", path="done_a.txt", content="done\n")),
        turn(call("verify_feature", feature=fid(1))),
        turn(call("mark_passing", feature=fid(1))),
        turn(call("note", text=f"the key is {CANARY_KEY}")),
        {"text": f"Done; I used {CANARY_TOKEN}."},
    ]
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    result = harness_proc(root, "run", "--report", str(tmp_path / "report.json"))
    assert result.returncode == 0, result.stderr
    assert "F001" in (root / "progress.md").read_text()

    stores = [p for p in (root / ".harness").rglob("*") if p.is_file()]
    stores += [root / "progress.md", tmp_path / "report.json"]
    # The scripted model's own script holds the canaries (it is the test's input); every
    # other file harness committed must not.
    history = subprocess.run(
        ["git", "log", "-p", "--all", "--", ".", ":!script.json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for canary in (CANARY_KEY, CANARY_TOKEN):
        assert canary not in history
        assert canary not in result.stdout + result.stderr
        for path in stores:
            assert canary.encode() not in path.read_bytes(), f"{canary[:8]}… leaked into {path}"
