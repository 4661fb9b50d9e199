"""The failure policy, driven through real litellm by the scripted model's faults."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.errors import ContextWindowExceeded, ModelError, ModelFatal, QuotaExhausted
from harness.model import POLICY, Action, LitellmModel, RetriesExhausted
from harness.model.policy import CallContext, Retrier, classify, retry_after_s, rule_class
from tests.harness.model_support import TOOLS, Cfg, FakeTime, make_model, user, write_script

OK_TURN: dict[str, Any] = {
    "text": "fine",
    "tool_calls": [{"name": "bash", "arguments": {"command": "make test"}}],
}


def faulty(root: Path, **fault: Any) -> str:
    return write_script(root, {"turns": [{**OK_TURN, **fault}]})


@pytest.mark.parametrize("kind", ["server_error", "unavailable", "bad_gateway", "timeout"])
def test_transient_faults_are_retried_with_backoff(tmp_path: Path, kind: str) -> None:
    fake = FakeTime()
    model = make_model(tmp_path, faulty(tmp_path, fault=kind, times=3), fake=fake)
    response = model.complete(user("go"), TOOLS)
    assert response.content == "fine"
    assert response.attempts == 4 and model.last_attempts == 4
    assert len(fake.sleeps) == 3 and response.retry_delays_s == fake.sleeps
    # Full jitter: each delay within [0, base * 2**n].
    for n, delay in enumerate(fake.sleeps):
        assert 0.0 <= delay <= 2.0**n


def test_rate_limit_honours_retry_after(tmp_path: Path) -> None:
    fake = FakeTime()
    name = faulty(tmp_path, fault="rate_limit", retry_after=0.2, times=3)
    response = make_model(tmp_path, name, fake=fake).complete(user("go"), TOOLS)
    assert fake.sleeps == [0.2, 0.2, 0.2]
    assert response.attempts == 4


def test_rate_limit_without_retry_after_backs_off(tmp_path: Path) -> None:
    fake = FakeTime()
    name = faulty(tmp_path, fault="rate_limit", times=2)
    response = make_model(tmp_path, name, fake=fake).complete(user("go"), TOOLS)
    assert response.attempts == 3 and len(fake.sleeps) == 2


def test_deadline_exceeded_gives_model_error_with_attempts(tmp_path: Path) -> None:
    fake = FakeTime()
    name = faulty(tmp_path, fault="rate_limit", retry_after=4, times=100)
    model = make_model(tmp_path, name, fake=fake, retry_deadline_s=10)
    with pytest.raises(RetriesExhausted) as info:
        model.complete(user("go"), TOOLS)
    err = info.value
    assert isinstance(err, ModelError) and not isinstance(err, ModelFatal)
    assert err.attempts == 3 and model.last_attempts == 3 and fake.sleeps == [4.0, 4.0]
    assert "3 attempts" in str(err) and "RateLimitError" in str(err)
    assert "retry_deadline_s = 10" in str(err)


def test_auth_is_fatal_and_names_the_variable(tmp_path: Path) -> None:
    fake = FakeTime()
    name = faulty(tmp_path, fault="auth", times=5)
    model = make_model(tmp_path, name, fake=fake, api_key_env="MY_SCRIPTED_KEY")
    with pytest.raises(ModelFatal) as info:
        model.complete(user("go"), TOOLS)
    assert "MY_SCRIPTED_KEY" in str(info.value) and "401" in str(info.value)
    assert fake.sleeps == [] and model.last_attempts == 1


def test_auth_names_the_providers_variable_without_config() -> None:
    import litellm

    model = LitellmModel(Cfg(name="openai/gpt-4o-mini"), project_root=Path("."))
    ctx = model._context(litellm)
    assert ctx.key_env == "OPENAI_API_KEY" and ctx.provider == "openai"
    anthropic = LitellmModel(
        Cfg(name="anthropic/claude-3-5-haiku-20241022"), project_root=Path(".")
    )
    assert anthropic._context(litellm).key_env == "ANTHROPIC_API_KEY"

    def fail() -> None:
        raise litellm.AuthenticationError("bad key", llm_provider="openai", model="gpt-4o-mini")

    with pytest.raises(ModelFatal, match="OPENAI_API_KEY"):
        Retrier(ctx=ctx, sleep=lambda _: None).call(fail)
    assert isinstance(ctx, CallContext)


def test_unknown_model_says_how_to_fix_the_name(tmp_path: Path) -> None:
    model = make_model(tmp_path, "no-such-model-xyz")
    with pytest.raises(ModelFatal) as info:
        model.complete(user("go"), [])
    assert "[model] name" in str(info.value) and "harness.toml" in str(info.value)


def test_not_found_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(ModelFatal, match=r"\[model\] name"):
        make_model(tmp_path, faulty(tmp_path, fault="not_found")).complete(user("go"), TOOLS)


def test_context_window_signals_compaction(tmp_path: Path) -> None:
    fake = FakeTime()
    model = make_model(tmp_path, faulty(tmp_path, fault="context_window"), fake=fake)
    with pytest.raises(ContextWindowExceeded):
        model.complete(user("go"), TOOLS)
    assert fake.sleeps == []
    # `times` is 1: the retried turn (after compaction) succeeds.
    assert model.complete(user("go"), TOOLS).content == "fine"


def test_quota_parks_the_run(tmp_path: Path) -> None:
    fake = FakeTime()
    with pytest.raises(QuotaExhausted) as info:
        make_model(tmp_path, faulty(tmp_path, fault="quota"), fake=fake).complete(user("go"), [])
    assert fake.sleeps == [] and "harness run" in str(info.value)
    assert info.value.exit_code == 4


def test_bad_tool_args_returns_malformed_json(tmp_path: Path) -> None:
    model = make_model(tmp_path, faulty(tmp_path, fault="bad_tool_args", times=1))
    bad = model.complete(user("go"), TOOLS)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.tool_calls[0].arguments)
    good = model.complete(user("go"), TOOLS)  # the second attempt of the turn is well-formed
    assert json.loads(good.tool_calls[0].arguments) == {"command": "make test"}


def test_policy_table_lists_subclasses_before_bases() -> None:
    import litellm

    names = [rule.exception for rule in POLICY]
    for i, earlier in enumerate(names):
        for later in names[i + 1 :]:
            a, b = rule_class(earlier, litellm), rule_class(later, litellm)
            assert not (issubclass(b, a) and a is not b), f"{later} is shadowed by {earlier}"
    assert {r.action for r in POLICY} == set(Action)


def test_retry_after_parsing() -> None:
    import litellm

    def err(headers: dict[str, str]) -> Exception:
        response = httpx.Response(429, headers=headers, request=httpx.Request("POST", "http://x"))
        return litellm.RateLimitError("slow", llm_provider="x", model="m", response=response)

    assert retry_after_s(err({"retry-after": "7"})) == 7.0
    assert retry_after_s(err({"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(err({})) is None

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    dated = err({"retry-after": "Thu, 01 Jan 2026 12:00:30 GMT"})
    assert retry_after_s(dated, now=now) == 30.0


def test_bugs_are_not_retried() -> None:

    calls = []

    def broken() -> None:
        calls.append(1)
        raise KeyError("ours")

    retrier = Retrier(ctx=CallContext("m", "p", "K"), sleep=lambda _: None, rng=random.Random(1))
    with pytest.raises(KeyError):
        retrier.call(broken)
    assert calls == [1]


def test_missing_key_reported_as_a_server_error_is_fatal() -> None:
    import litellm

    def fail() -> None:
        raise litellm.InternalServerError(
            "OpenAIException - Missing credentials. Please pass an `api_key`, or set the "
            "`OPENAI_API_KEY` environment variable.",
            llm_provider="openai",
            model="gpt-4o-mini",
        )

    sleeps: list[float] = []
    ctx = CallContext("openai/gpt-4o-mini", "openai", "OPENAI_API_KEY")
    with pytest.raises(ModelFatal, match="set the environment variable OPENAI_API_KEY"):
        Retrier(ctx=ctx, sleep=sleeps.append).call(fail)
    assert sleeps == []


def test_generic_api_error_retried_only_when_server_side() -> None:
    import litellm

    five = litellm.APIError(status_code=520, message="odd", llm_provider="x", model="m")
    four = litellm.APIError(status_code=418, message="teapot", llm_provider="x", model="m")
    rule = classify(five)
    assert rule is not None and rule.action is Action.RETRY
    assert classify(four) is None
