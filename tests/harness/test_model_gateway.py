"""LitellmModel through real litellm with the scripted model: turns, tools, costs, budgets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import BudgetExhausted
from harness.model import Accounting, Model, ModelResponse, Usage
from tests.harness.model_support import TOOLS, Budgets, make_model, user, write_script

SCRIPT = {
    "scenes": [
        {
            "name": "init",
            "match": r"ROLE: initializer",
            "turns": [{"text": "I am the initializer."}],
        },
        {
            "name": "F003",
            "match": r"Feature F003",
            "turns": [
                {
                    "text": "Looking around.",
                    "tool_calls": [
                        {"name": "bash", "arguments": {"command": "ls -la"}},
                        {"name": "bash", "arguments": {"command": "cat README.md"}},
                    ],
                },
                {"text": "Done with F003."},
            ],
        },
    ]
}


def test_importing_the_gateway_does_not_import_litellm() -> None:
    code = "import sys, harness.model; print('litellm' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_builtin_echo_answers_then_ends(tmp_path: Path) -> None:
    model = make_model(tmp_path, "scripted/builtin:echo")
    assert isinstance(model, Model)
    first = model.complete(user("hello"), [])
    assert first.content and "scripted model" in first.content
    assert first.tool_calls == [] and first.finish_reason == "stop"
    assert first.model == "scripted/builtin:echo" and first.attempts == 1
    second = model.complete([*user("hello"), first.message()], [])
    assert second.content == "(script ended)" and second.tool_calls == []


def test_tool_calls_with_deterministic_ids_and_json_arguments(tmp_path: Path) -> None:
    model = make_model(tmp_path, write_script(tmp_path, SCRIPT))
    messages = user("ROLE: coding agent. Feature F003: count words")
    response = model.complete(messages, TOOLS)
    assert response.content == "Looking around."
    assert [c.id for c in response.tool_calls] == ["call_F003_0_0", "call_F003_0_1"]
    assert [c.name for c in response.tool_calls] == ["bash", "bash"]
    assert json.loads(response.tool_calls[0].arguments) == {"command": "ls -la"}
    assert response.finish_reason == "tool_calls"
    messages.append(response.message())
    for call in response.tool_calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "ok"})
    follow = model.complete(messages, TOOLS)
    assert follow.content == "Done with F003." and not follow.tool_calls


def test_scene_chosen_by_first_user_message(tmp_path: Path) -> None:
    model = make_model(tmp_path, write_script(tmp_path, SCRIPT))
    response = model.complete(user("ROLE: initializer\nSPEC: ..."), TOOLS)
    assert response.content == "I am the initializer."


def test_tools_work_without_the_mcp_package(tmp_path: Path) -> None:
    # litellm 1.106 imports `mcp` for calls with tools unless _skip_mcp_handler is passed.
    assert "mcp" not in sys.modules
    try:
        import mcp  # noqa: F401, PLC0415  (imported here: the test is about its absence)
    except ImportError:
        pass
    else:
        pytest.skip("the mcp package is installed here; this test is about its absence")
    model = make_model(tmp_path, write_script(tmp_path, SCRIPT))
    assert model.complete(user("Feature F003"), TOOLS).tool_calls


def test_same_transcript_gives_the_same_response(tmp_path: Path) -> None:
    name = write_script(tmp_path, SCRIPT)
    one = make_model(tmp_path, name).complete(user("Feature F003"), TOOLS)
    two = make_model(tmp_path, name).complete(user("Feature F003"), TOOLS)
    assert one == two
    assert one.usage.total_tokens > 0


def test_compaction_marker_keeps_the_position(tmp_path: Path) -> None:
    model = make_model(tmp_path, write_script(tmp_path, SCRIPT))
    messages = [
        *user("Feature F003"),
        {"role": "user", "content": "[harness: compacted 1 assistant turns]\nSummary: ..."},
    ]
    assert model.complete(messages, TOOLS).content == "Done with F003."


def test_usage_and_cost_accumulate(tmp_path: Path) -> None:
    accounting = Accounting()
    model = make_model(tmp_path, write_script(tmp_path, SCRIPT), accounting=accounting)
    first = model.complete(user("Feature F003"), TOOLS)
    assert first.usage.cost_usd > 0
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    second = model.complete([*user("Feature F003"), first.message()], TOOLS)
    assert accounting.run_calls == 2
    assert accounting.run.total_tokens == first.usage.total_tokens + second.usage.total_tokens
    assert accounting.session.cost_usd == pytest.approx(
        first.usage.cost_usd + second.usage.cost_usd
    )
    # The journal reads usage.total_tokens and usage.cost_usd from the dumped output.
    dumped = json.loads(first.model_dump_json())
    assert dumped["usage"]["total_tokens"] == first.usage.total_tokens
    assert ModelResponse.model_validate(dumped) == first


def test_budget_stops_before_the_call(tmp_path: Path) -> None:
    accounting = Accounting(Budgets(session_tokens=10))
    model = make_model(tmp_path, write_script(tmp_path, SCRIPT), accounting=accounting)
    model.complete(user("Feature F003"), TOOLS)  # under budget before: runs, goes over
    spent = accounting.session.total_tokens
    assert spent >= 10
    with pytest.raises(BudgetExhausted) as info:
        model.complete(user("Feature F003"), TOOLS)
    assert info.value.budget == "session_tokens" and info.value.used == spent
    assert accounting.run_calls == 1  # the refused call was never made
    assert model.last_attempts == 1  # from the call before: nothing new was attempted


def test_dollar_budget_of_the_run_survives_a_new_session(tmp_path: Path) -> None:
    accounting = Accounting.from_totals(Budgets(run_dollars=0.5), run_cost_usd=0.5)
    accounting.start_session()
    with pytest.raises(BudgetExhausted) as info:
        make_model(tmp_path, "scripted/builtin:echo", accounting=accounting).complete(
            user("hi"), []
        )
    assert info.value.budget == "run_dollars" and info.value.limit == 0.5


def test_accounting_restores_from_numbers() -> None:
    acc = Accounting(Budgets(run_tokens=1000))
    acc.restore(tokens=900, cost_usd=0.25)
    acc.check()
    acc.add(Usage(prompt_tokens=80, completion_tokens=20, total_tokens=100, cost_usd=0.01))
    assert acc.run_usage.total_tokens == 1000 and acc.session_usage.total_tokens == 100
    with pytest.raises(BudgetExhausted):
        acc.check_run()
    acc.start_session()
    assert acc.session.total_tokens == 0 and acc.run.cost_usd == pytest.approx(0.26)


def test_latency_is_applied(tmp_path: Path) -> None:

    name = write_script(tmp_path, {"latency_s": 0.05, "turns": [{"text": "slow"}]})
    started = time.monotonic()
    make_model(tmp_path, name).complete(user("x"), [])
    assert time.monotonic() - started >= 0.05


def test_call_options_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_KEY", "sk-test-123")
    model = make_model(
        tmp_path,
        "openai/gpt-4o-mini",
        temperature=0.2,
        max_tokens=500,
        timeout_s=30,
        api_key_env="HARNESS_TEST_KEY",
    )
    kwargs = model._kwargs(user("x"), TOOLS)
    assert kwargs["api_key"] == "sk-test-123" and kwargs["tools"] == TOOLS
    assert (kwargs["temperature"], kwargs["max_tokens"], kwargs["timeout"]) == (0.2, 500, 30)
    assert kwargs["_skip_mcp_handler"] is True and "api_base" not in kwargs
    scripted = make_model(tmp_path, "scripted/builtin:echo")._kwargs(user("x"), [])
    assert scripted["api_base"] == str(tmp_path) and "tools" not in scripted
