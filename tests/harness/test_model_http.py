"""The gateway over real HTTP: litellm's OpenAI path against a fault-injecting local server.

Request counts are the server's; delays are the attempts' records (and, where waits are
real, loose bounds: at most the deadline plus one timeout is a correctness bound, not a
speed figure).
"""

from __future__ import annotations

import json
import logging
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import (
    ConfigError,
    ContextWindowExceeded,
    ModelFatal,
    ProviderUnavailable,
    QuotaExhausted,
)
from harness.model import LitellmModel
from harness.model.names import import_litellm
from harness.model.policy import RetriesExhausted
from tests.harness.http_fake import (
    CONTEXT_LENGTH,
    QUOTA,
    UNAUTHORIZED,
    Drop,
    FakeOpenAI,
    Hang,
    Raw,
    Status,
    completion,
    error_body,
    rate_limited,
)
from tests.harness.model_support import TOOLS, Cfg, FakeTime, user

KEY_ENV = "HARNESS_TEST_FAKE_KEY"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key-000000")
    with FakeOpenAI() as server:
        yield server


def model(
    fake: FakeOpenAI | None,
    tmp_path: Path,
    *,
    clock: FakeTime | None = None,
    **options: object,
) -> LitellmModel:
    settings: dict[str, object] = {
        "name": "openai/fake-model",
        "api_base": fake.url if fake else None,
        "api_key_env": KEY_ENV,
        "timeout_s": 5.0,
        "retry_deadline_s": 30.0,
    }
    settings.update(options)
    cfg = Cfg(**settings)  # type: ignore[arg-type]
    if clock is None:
        return LitellmModel(cfg, project_root=tmp_path, rng=random.Random(7))
    return LitellmModel(
        cfg, project_root=tmp_path, sleep=clock.sleep, clock=clock.clock, rng=random.Random(7)
    )


def test_one_request_per_attempt_and_retry_after_headers(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.faults = [rate_limited(retry_after="1"), rate_limited(retry_after_ms="150")]
    started = time.monotonic()
    response = model(fake, tmp_path).complete(user("go"), TOOLS)
    waited = time.monotonic() - started
    assert len(fake.chat_requests()) == 3  # no SDK retries under the harness's
    assert response.attempts == 3 and response.retry_delays_s == [1.0, 0.15]
    log = [(a.n, a.status, a.delay_s, a.delay_from) for a in response.attempt_log]
    assert log == [(1, 429, 1.0, "retry-after"), (2, 429, 0.15, "retry-after-ms")]
    gaps = [b.at - a.at for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
    assert gaps[0] >= 1.0 and gaps[1] >= 0.15  # the waits really happened, as recorded
    assert waited >= 1.15


@pytest.mark.parametrize("code", [500, 502, 503, 529])
def test_server_errors_are_retried_once_each(fake: FakeOpenAI, tmp_path: Path, code: int) -> None:
    fake.faults = [Status(code, error_body("the server is having a moment"))]
    clock = FakeTime()
    response = model(fake, tmp_path, clock=clock).complete(user("go"), TOOLS)
    assert len(fake.chat_requests()) == 2
    assert response.attempts == 2 and [a.status for a in response.attempt_log] == [code]
    assert response.attempt_log[0].delay_from == "backoff"
    assert clock.sleeps == response.retry_delays_s


def test_a_persistent_429_gives_up_within_the_deadline(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.faults = [rate_limited(retry_after="20")] * 5
    started = time.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        model(fake, tmp_path, retry_deadline_s=10.0).complete(user("go"), TOOLS)
    assert time.monotonic() - started < 10.0 + 5.0  # deadline + one timeout
    assert len(fake.chat_requests()) == 1  # waiting 20 s would overrun the 10 s deadline
    error = info.value
    assert isinstance(error, ProviderUnavailable) and error.exit_code == 4
    assert str(error).startswith("waiting for the provider since ")
    assert "20 s (retry-after)" in str(error)
    assert error.attempt_log == [
        {"n": 1, "status": 429, "error": "RateLimitError", "delay_s": None, "delay_from": None}
    ]


def test_a_hanging_server_holds_the_deadline_plus_one_timeout(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.faults = [Hang(30)] * 20
    started = time.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        model(fake, tmp_path, timeout_s=1.0, retry_deadline_s=2.0).complete(user("go"), TOOLS)
    elapsed = time.monotonic() - started
    assert elapsed <= 2.0 + 1.0 + 1.0  # deadline + one timeout (+ slack for a busy machine)
    requests = len(fake.chat_requests())
    assert 1 <= requests <= 3 and info.value.attempts == requests
    assert all(a["status"] is None and a["error"] == "Timeout" for a in info.value.attempt_log)
    assert "did not answer within 1 s" in str(info.value)
    assert "throttl" not in str(info.value)


def test_a_dropped_connection_is_retried(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.faults = [Drop()]
    response = model(fake, tmp_path, clock=FakeTime()).complete(user("go"), TOOLS)
    assert len(fake.chat_requests()) == 2 and response.content == "ok"
    assert response.attempt_log[0].status is None


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json {",
        b'{"choices": []}',
        b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0}]}',
        json.dumps(completion(None, [{"name": None, "arguments": "{}"}])).encode(),
    ],
    ids=["invalid-json", "empty-choices", "no-message", "nameless-tool-call"],
)
def test_malformed_200s_are_retried_then_succeed(
    fake: FakeOpenAI, tmp_path: Path, body: bytes
) -> None:
    fake.faults = [Raw(body)]
    response = model(fake, tmp_path, clock=FakeTime()).complete(user("go"), TOOLS)
    assert len(fake.chat_requests()) == 2 and response.content == "ok"
    assert response.attempts == 2


def test_persistent_empty_choices_end_in_a_clear_error(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.faults = [Raw(b'{"choices": []}')] * 50
    clock = FakeTime()
    with pytest.raises(RetriesExhausted) as info:
        model(fake, tmp_path, clock=clock, retry_deadline_s=20.0).complete(user("go"), TOOLS)
    text = str(info.value)
    assert "malformed completion" in text and "no choices" in text
    assert fake.url in text and "[model] api_base" in text
    assert len(fake.chat_requests()) == info.value.attempts > 1
    assert sum(clock.sleeps) <= 20.0


def test_context_length_compacts_after_one_request(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.faults = [CONTEXT_LENGTH]
    with pytest.raises(ContextWindowExceeded):
        model(fake, tmp_path).complete(user("go"), TOOLS)
    assert len(fake.chat_requests()) == 1


def test_401_is_fatal_after_one_request_and_names_the_variable(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.faults = [UNAUTHORIZED]
    with pytest.raises(ModelFatal) as info:
        model(fake, tmp_path).complete(user("go"), TOOLS)
    assert len(fake.chat_requests()) == 1 and KEY_ENV in str(info.value)
    assert info.value.exit_code == 2


def test_quota_parks_after_one_request(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.faults = [QUOTA]
    with pytest.raises(QuotaExhausted):
        model(fake, tmp_path).complete(user("go"), TOOLS)
    assert len(fake.chat_requests()) == 1  # not 3 (the SDK's own retries are off)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_refused_connection_names_the_url_and_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    clock = FakeTime()
    with pytest.raises(RetriesExhausted) as info:
        model(None, tmp_path, api_base=url, clock=clock, retry_deadline_s=5.0).complete(
            user("go"), TOOLS
        )
    text = str(info.value)
    source = "`[model] api_base` (harness.toml or HARNESS_MODEL_API_BASE)"
    assert f"connection refused by {url} (set by {source}): nothing listens there" in text
    assert "throttl" not in text and info.value.exit_code == 4


def test_the_base_url_from_the_environment_is_named(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    fake.faults = [Status(503, error_body("down"))] * 50
    with pytest.raises(RetriesExhausted) as info:
        model(None, tmp_path, clock=FakeTime(), retry_deadline_s=3.0).complete(user("go"), TOOLS)
    assert fake.chat_requests()  # the request went where the variable said
    assert f"{fake.url} (set by the environment variable OPENAI_BASE_URL)" in str(info.value)
    assert "HTTP 503" in str(info.value)


def test_a_typo_in_the_provider_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ModelFatal) as info:
        model(None, tmp_path, name="opneai/gpt-4o-mini", api_key_env=None).complete(
            user("go"), TOOLS
        )
    text = str(info.value)
    assert "unknown model provider 'opneai'" in text and "'openai'" in text
    assert "OPNEAI_API_KEY" not in text


def test_no_price_is_warned_once_per_hosted_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hosted model litellm's table does not list: its cost is unknown, said once (a model
    on your own server is never warned about: tests/harness/test_model_setup.py)."""

    for variable in ("OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(variable, raising=False)
    gateway = model(None, tmp_path, name="openai/gpt-from-the-future", api_base=None)
    litellm = import_litellm()
    with caplog.at_level(logging.WARNING, logger="harness.model.litellm_model"):
        costs = [gateway._cost(litellm, object(), 10, 5) for _ in range(3)]
    assert costs == [0.0, 0.0, 0.0]
    assert sum("no price known" in r.getMessage() for r in caplog.records) == 1


def test_connection_options_reach_the_server(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.reply = completion(None, [{"name": "bash", "arguments": '{"command": "ls"}'}])
    response = model(fake, tmp_path, extra_headers={"X-Proxy-Tag": "harness"}).complete(
        user("go"), TOOLS
    )
    request = fake.chat_requests()[0]
    assert request.headers.get("X-Proxy-Tag") == "harness"
    assert request.headers.get("Authorization") == "Bearer sk-test-not-a-real-key-000000"
    assert request.body["tools"][0]["function"]["name"] == "bash"
    assert [c.name for c in response.tool_calls] == ["bash"]
    assert response.usage.total_tokens == 15


def test_no_model_configured_is_a_clear_error(tmp_path: Path) -> None:

    with pytest.raises(ConfigError) as info:
        LitellmModel(Cfg(name=None), project_root=tmp_path)  # type: ignore[arg-type]
    text = str(info.value)
    assert "no model is configured" in text and "ollama_chat/" in text and "api_base" in text
    assert info.value.exit_code == 2
