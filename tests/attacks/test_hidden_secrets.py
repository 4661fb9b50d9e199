"""Files declared secret are not there for the agent: a `.env` holding the provider key
was ROT13'd by a command into a tracked file and printed, and went into git and into the
model's context (no scan knows every encoding). Now `.env` files (not their templates)
and `[protect] hide` are empty stand-ins inside the sandbox, and the file tools refuse
or skip them.

Outcomes: the key, and its ROT13, are in no commit, no file under `.harness/`, no
message the model was sent; the command did run (its output is recorded), and the
project's `.env.example` is still readable. Not on the local runner, which cannot hide
anything: `harness doctor` and the runner's description say so.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from tests.attacks.support import (
    git_out,
    project,
    record_model_input,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, harness_out, tool_outputs, turn

KEY = "sk-proj-CanaryRotThirteenKey0123456789abcdefXYZ"
ROT = "tr 'A-Za-z' 'N-ZA-Mn-za-m'"
FILES = {
    ".env": f"OPENAI_API_KEY={KEY}\n",
    "backend/.env.production": f"TOKEN={KEY}\n",
    "config/credentials.yml": f"key: {KEY}\n",
    ".env.example": "OPENAI_API_KEY=your-key-here\n",
}
HIDE = '\n[protect]\nhide = ["config/credentials.yml"]\n'


def _forms(text: str) -> list[str]:
    rotated = codecs.encode(text, "rot13")
    return [text, rotated, text[::-1], rotated[::-1]]


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_secret_file_is_hidden_from_commands_and_file_tools(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # the harness knows the value
    runner = runner_for(kind, request)
    seen = record_model_input(monkeypatch)
    sources = ".env backend/.env.production config/credentials.yml"
    attack = (
        f"cat {sources} | {ROT} > notes.txt; cat notes.txt; cat {sources} | rev; "
        "rm -f .env; mv backend b2; mv config c2; cat .env.example; echo attacked"
    )
    turns = [
        turn(call("run", command=attack)),
        turn(call("read_file", path=".env")),
        turn(call("read_file", path="backend/.env.production")),
        turn(call("grep", regex="sk-|key", glob="**/*")),
        turn(call("list_files", pattern="**/.env*")),
        {"text": "Kept notes."},
    ]
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: turns},
        files=FILES,
        toml="[budgets]\nrun_sessions = 1\n" + HIDE,
    )
    run(root, tmp_path)
    outputs = tool_outputs(root, "run")
    assert outputs and "attacked" in outputs[0], outputs  # the attack ran
    assert "your-key-here" in outputs[0]  # the template is not hidden
    sent = json.dumps(seen)
    assert "attacked" in sent
    history = git_out(root, "log", "-p", "--all", "--binary", "--", ".", ":!script.json")
    stores = {"git history": history, "the model's messages": sent}
    for path in (root / ".harness").rglob("*"):
        if path.is_file():
            stores[str(path)] = path.read_bytes().decode("latin-1")
    for where, text in stores.items():
        for form in _forms(KEY[3:]):
            assert form not in text, f"{where} holds a form of the key"
    assert "declared secret" in sent  # read_file said why it refused
    assert (root / ".env").read_text() == FILES[".env"]  # the user's files are untouched
    assert (root / "config" / "credentials.yml").is_file()


def test_the_local_runner_says_it_cannot_hide_them(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for("local", request)
    root = project(tmp_path / "p", runner, sessions={1: [{"text": "Nothing."}]}, files=FILES)
    _code, out = harness_out(root, "doctor")
    assert ".env" in out and "cannot hide" in out, out
