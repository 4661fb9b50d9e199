"""The in-process scripted model: the same turns as the litellm provider, the same errors
as the gateway, and no litellm."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ContextWindowExceeded, ModelFatal, QuotaExhausted
from harness.model import Model
from harness.model.inprocess import ScriptedModel
from harness.model.policy import RetriesExhausted
from harness.model.script import Script, load_script
from tests.harness.model_support import TOOLS, make_model, user, write_script

SCRIPT: dict[str, Any] = {
    "scenes": [
        {"name": "init", "match": "ROLE: initializer", "turns": [{"text": "initialising"}]},
        {
            "name": "F003",
            "match": "Feature F003",
            "turns": [
                {
                    "text": "Looking around.",
                    "tool_calls": [
                        {"name": "bash", "arguments": {"command": "ls -la"}},
                        {"name": "bash", "arguments": {"command": "cat README.md"}},
                    ],
                },
                {
                    "text": "spoiled",
                    "fault": "bad_tool_args",
                    "tool_calls": [{"name": "bash", "arguments": {"command": "true"}}],
                },
                {"text": "Done with F003."},
            ],
        },
    ]
}


def _conversation(model: Model, first: str, turns: int) -> list[Any]:
    messages = user(first)
    answers = []
    for _ in range(turns):
        response = model.complete(messages, TOOLS)
        answers.append(response)
        messages.append(response.message())
        for call in response.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "ok"})
    return answers


def test_the_same_turns_as_the_litellm_provider(tmp_path: Path) -> None:
    name = write_script(tmp_path, SCRIPT)
    inproc = ScriptedModel(tmp_path / "script.json")
    assert isinstance(inproc, Model)
    gateway = make_model(tmp_path, name)
    for first in ("Session 4: Feature F003", "ROLE: initializer"):
        ours = _conversation(inproc, first, 4)
        theirs = _conversation(gateway, first, 4)
        fields = ("content", "tool_calls", "finish_reason", "attempts")
        assert [r.model_dump(include=set(fields)) for r in ours] == [
            r.model_dump(include=set(fields)) for r in theirs
        ]
        assert [r.usage.total_tokens for r in ours] == [r.usage.total_tokens for r in theirs]
    spoiled = _conversation(ScriptedModel(tmp_path / "script.json"), "Feature F003", 2)[1]
    assert spoiled.tool_calls[0].arguments.endswith(',"')


def test_retried_faults_come_back_as_attempts(tmp_path: Path) -> None:
    script = Script.model_validate(
        {"turns": [{"text": "hi", "fault": "rate_limit", "times": 2, "retry_after": 2}]}
    )
    model = ScriptedModel(script)
    response = model.complete(user("x"), [])
    assert (response.content, response.attempts, response.retry_delays_s) == ("hi", 3, [2, 2])
    assert model.calls == 3
    again = model.complete(user("x"), [])  # the fault fired its `times`: not again
    assert again.attempts == 1


def test_retried_faults_past_the_limit_give_up() -> None:
    script = Script.model_validate({"turns": [{"text": "hi", "fault": "timeout", "times": 9}]})
    with pytest.raises(RetriesExhausted) as info:
        ScriptedModel(script, max_attempts=4).complete(user("x"), [])
    assert info.value.attempts == 4 and info.value.kind == "Timeout"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("context_window", ContextWindowExceeded),
        ("quota", QuotaExhausted),
        ("auth", ModelFatal),
        ("not_found", ModelFatal),
    ],
)
def test_other_faults_raise_the_gateways_errors_times_times(fault: str, error: type) -> None:
    script = Script.model_validate({"turns": [{"text": "hi", "fault": fault, "times": 2}]})
    model = ScriptedModel(script)
    for _ in range(2):
        with pytest.raises(error):
            model.complete(user("x"), [])
    assert model.complete(user("x"), []).content == "hi"


def test_no_scene_matching_is_fatal(tmp_path: Path) -> None:
    write_script(tmp_path, SCRIPT)
    with pytest.raises(ModelFatal, match="no scene"):
        ScriptedModel(tmp_path / "script.json").complete(user("something else"), [])


def test_the_in_process_path_does_not_import_litellm(tmp_path: Path) -> None:
    write_script(tmp_path, SCRIPT)
    code = (
        "import sys\nfrom pathlib import Path\nfrom harness.model.inprocess import ScriptedModel\n"
        f"m = ScriptedModel(Path({str(tmp_path / 'script.json')!r}))\n"
        "m.complete([{'role': 'user', 'content': 'Feature F003'}], [])\n"
        "print('litellm' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"
    assert load_script(tmp_path / "script.json").scenes[1].name == "F003"


def test_both_models_have_the_members_the_loop_uses(tmp_path: Path) -> None:
    """The loop calls `prepare`, `estimate` and `name` on any Model (no getattr fallback that
    would skip a lost request's cost): the protocol says so, and both models have them,
    estimating a lost request alike (tokens from its size)."""
    assert {"name", "prepare", "estimate", "complete"} <= set(dir(Model))
    name = write_script(tmp_path, SCRIPT)
    inproc = ScriptedModel(tmp_path / "script.json")
    gateway = make_model(tmp_path, name)
    messages = user("Session 4: Feature F003")
    inproc.prepare()
    gateway.prepare()
    assert (
        inproc.estimate(messages, TOOLS).prompt_tokens
        == (gateway.estimate(messages, TOOLS).prompt_tokens)
        > 0
    )
    assert isinstance(inproc, Model) and isinstance(gateway, Model)
    assert gateway.name == name and inproc.name == "scripted/inprocess"


def test_a_script_file_is_read_at_each_call_and_its_latency_waited(tmp_path: Path) -> None:
    """As the provider does: the script's and the turn's ``latency_s`` waited with the
    model's ``sleep`` (none without one), and a file rewritten between calls read again."""
    slow = {"latency_s": 0.5, "turns": [{"text": "first", "latency_s": 2.0}, {"text": "next"}]}
    write_script(tmp_path, slow)
    waited: list[float] = []
    model = ScriptedModel(tmp_path / "script.json", sleep=waited.append)
    assert model.complete(user("x"), []).content == "first"
    assert waited == [2.5]
    write_script(tmp_path, {"turns": [{"text": "rewritten"}]})
    assert model.complete(user("x"), []).content == "rewritten"
    assert waited == [2.5]  # the new file has no latency
    assert ScriptedModel(tmp_path / "script.json").complete(user("x"), []).content == "rewritten"
