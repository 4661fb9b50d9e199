"""A litellm call does only what harness needs (harness/model/lean.py), over real HTTP:
no success logging handed to litellm's pool when no callback listens, a configured
callback still hears every call, and the response is priced once, at litellm's price."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.model import LitellmModel
from harness.model.names import import_litellm
from harness.model.pricing import table_price
from tests.harness.http_fake import FakeOpenAI
from tests.harness.model_support import TOOLS, Cfg, user

KEY_ENV = "HARNESS_TEST_FAKE_KEY"
NAME = "openai/gpt-4o-mini"  # listed in litellm's price table


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def model(fake: FakeOpenAI, tmp_path: Path) -> LitellmModel:
    cfg = Cfg(name=NAME, api_base=fake.url, api_key_env=KEY_ENV, timeout_s=10.0)
    return LitellmModel(cfg, project_root=tmp_path, environ={KEY_ENV: "sk-test-000"})


class Counting:
    """Stands in for litellm's logging pool: counts what is handed to it, runs it."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return self.pool.submit(*args, **kwargs)


def test_no_success_logging_when_no_callback_listens(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    litellm = import_litellm()
    import litellm.utils as litellm_utils

    pool = Counting(litellm_utils.executor)
    monkeypatch.setattr(litellm_utils, "executor", pool)
    for name in ("callbacks", "success_callback", "_async_success_callback", "input_callback"):
        monkeypatch.setattr(litellm, name, [])
    response = model(fake, tmp_path).complete(user("go"), TOOLS)
    assert response.content == "ok"
    assert len(fake.chat_requests()) == 1
    assert pool.submitted == 0


def test_a_configured_callback_still_hears_every_call(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    litellm = import_litellm()
    from litellm.integrations.custom_logger import CustomLogger

    heard = threading.Event()

    class Listener(CustomLogger):
        def log_success_event(self, *args: Any, **kwargs: Any) -> None:
            heard.set()

    monkeypatch.setattr(litellm, "callbacks", [Listener()])
    model(fake, tmp_path).complete(user("go"), TOOLS)
    assert heard.wait(60)  # the user's own integration is logged as litellm always does


def test_the_response_is_priced_once_at_litellms_price(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    litellm = import_litellm()
    asked: list[object] = []
    original = litellm.completion_cost

    def counted(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("model"))
        return original(*args, **kwargs)

    monkeypatch.setattr(litellm, "completion_cost", counted)
    the_model = model(fake, tmp_path)
    usage = the_model.complete(user("go"), TOOLS).usage
    price = table_price(litellm, NAME, "openai")
    assert price is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (10, 5)
    assert usage.cost_usd == pytest.approx(10 * price[0] + 5 * price[1])
    assert asked == []  # litellm priced it during the call; harness did not ask again
