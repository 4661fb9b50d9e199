"""A model's setup is checked first, over a real localhost HTTP server playing the model:
a wrong provider, a wrong model and a refused api_base each stop `harness init` at once
(exit 2, harness.toml written with what the user typed, a message saying what to fix),
with no retry; the corrected setup then runs to completion."""

from __future__ import annotations

import json
import logging
import random
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.model import LitellmModel
from harness.model.policy import FIRST_CONTACT_S, RetriesExhausted
from tests.harness.http_fake import FakeOpenAI, completion
from tests.harness.model_support import TOOLS, Cfg, FakeTime, user
from tests.harness.test_model_http_run import agent
from tests.session.support import SPEC, harness, make_project
from tests.session.support import init as scripted_init

KEY_ENV = "HARNESS_TEST_FAKE_KEY"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key-000000")
    with FakeOpenAI() as server:
        server.reply = agent
        server.models = ["fake-model"]
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def model_table(root: Path) -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((root / "harness.toml").read_text())["model"]
    return table


def init(root: Path, model: str, base: str) -> int:
    return harness(
        root, "init", "--spec", "SPEC.md", "--model", model, "--api-base", base,
        "--api-key-env", KEY_ENV, "--quiet",
    )  # fmt: skip


@pytest.mark.slow  # 1.07 CPU-s
def test_bad_setups_stop_init_at_once_then_the_fixed_one_runs_to_completion(
    fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "SPEC.md").write_text(SPEC)

    assert init(root, "openia/fake-model", fake.url) == 2
    err = capsys.readouterr().err
    assert "unknown model provider 'openia'" in err and "Did you mean 'openai'?" in err
    assert model_table(root)["name"] == "openia/fake-model"  # what the user typed, kept
    assert model_table(root)["api_base"] == fake.url
    assert not fake.chat_requests()  # nothing asked of the model
    assert not (root / "feature_list.json").exists() and not (root / ".harness").exists()

    assert init(root, "openai/no-such-model", fake.url) == 2
    err = capsys.readouterr().err
    assert f"{fake.url} does not know the model 'no-such-model'" in err
    assert "It serves 'fake-model'. Did you mean openai/fake-model?" in err
    assert model_table(root)["name"] == "openai/no-such-model"
    assert len(fake.chat_requests()) == 1  # one tiny request, no retry
    assert fake.chat_requests()[0].body["max_tokens"] == 1

    refused = f"http://127.0.0.1:{closed_port()}/v1"
    assert init(root, "openai/fake-model", refused) == 2
    err = capsys.readouterr().err
    assert f"cannot reach {refused}: connection refused" in err
    assert "Start the model server" in err and "retry" not in err
    assert model_table(root)["api_base"] == refused
    assert len(fake.chat_requests()) == 1

    toml = root / "harness.toml"  # the user's file now: choose the runner for the test
    toml.write_text(toml.read_text().replace('kind = "auto"', 'kind = "local"'))
    assert init(root, "openai/fake-model", fake.url) == 0, capsys.readouterr().err
    assert harness(root, "run", "--unattended", "--quiet") == 0, capsys.readouterr().err
    assert (root / "done_a.txt").exists()


def gateway(tmp_path: Path, url: str, clock: FakeTime, deadline: float) -> LitellmModel:
    cfg = Cfg(  # type: ignore[call-arg]
        name="openai/fake-model", api_base=url, api_key_env=KEY_ENV, timeout_s=5.0,
        retry_deadline_s=deadline,
    )  # fmt: skip
    return LitellmModel(
        cfg, project_root=tmp_path, sleep=clock.sleep, clock=clock.clock, rng=random.Random(3)
    )


def test_a_refused_first_contact_is_said_within_seconds_not_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    clock = FakeTime()
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(RetriesExhausted) as info:
        gateway(tmp_path, url, clock, deadline=300.0).complete(user("go"), TOOLS)
    assert clock.now <= FIRST_CONTACT_S
    text = str(info.value)
    assert "connection refused" in text and "nothing has answered there yet" in text
    assert "start the server or fix `[model] api_base`" in text


def test_a_server_that_answered_once_and_then_refuses_gets_the_whole_deadline(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = FakeTime()
    model = gateway(tmp_path, fake.url, clock, deadline=60.0)
    model.complete(user("go"), TOOLS)
    fake.close()  # the server goes down mid-run: an outage, retried to the deadline
    with pytest.raises(RetriesExhausted) as info:
        model.complete(user("again"), TOOLS)
    assert clock.now > FIRST_CONTACT_S
    assert "retry_deadline_s = 60" in str(info.value)


def test_a_dollar_budget_without_a_price_refuses_to_start(
    fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    root = make_project(tmp_path / "p", count=1)
    scripted_init(root)
    lines = f'name = "openai/fake-model"\napi_base = "{fake.url}"\napi_key_env = "{KEY_ENV}"'
    toml = f'[model]\n{lines}\n\n[runner]\nkind = "local"\n\n[budgets]\nrun_dollars = 5\n'
    (root / "harness.toml").write_text(toml)
    assert harness(root, "run", "--unattended") == 2
    err = capsys.readouterr().err
    assert "run_dollars = 5 cannot be enforced: no price is known for 'openai/fake-model'" in err
    assert "input_usd_per_mtok" in err
    assert not fake.chat_requests()
    priced = toml.replace(
        "\n\n[runner]", "\ninput_usd_per_mtok = 1000\noutput_usd_per_mtok = 2000\n\n[runner]"
    )
    (root / "harness.toml").write_text(priced)
    report = tmp_path / "report.json"
    assert harness(root, "run", "--unattended", "--report", str(report)) == 0

    data = json.loads(report.read_text())
    calls = len(fake.chat_requests())
    assert data["cost_usd"] == pytest.approx(calls * (10 * 1000 + 5 * 2000) / 1_000_000)


def test_no_price_warning_for_a_model_on_your_own_server(
    fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = gateway(tmp_path, fake.url, FakeTime(), deadline=5.0)
    with caplog.at_level(logging.WARNING, logger="harness.model.litellm_model"):
        model.complete(user("go"), TOOLS)
    assert not [r for r in caplog.records if "no price known" in r.getMessage()]


def test_the_first_model_step_does_not_time_litellms_import(tmp_path: Path) -> None:
    """The loop prepares the model (imports litellm) before its first step, outside it:
    the first step times the request, not a 2-3 s import."""

    order: list[str] = []
    prepare, complete = LitellmModel.prepare, LitellmModel.complete

    def prepared(self: LitellmModel) -> None:
        order.append("prepare")
        prepare(self)

    def completed(self: LitellmModel, *args: Any) -> Any:
        order.append("complete")
        return complete(self, *args)

    root = make_project(tmp_path / "p", count=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LitellmModel, "prepare", prepared)
        patch.setattr(LitellmModel, "complete", completed)
        scripted_init(root)
    assert order[:2] == ["prepare", "complete"]


def test_a_model_that_only_talks_stops_init_saying_so(
    fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    fake.reply = completion("Sure! Here is the plan: first we build the login page.")
    root = tmp_path / "app"
    root.mkdir()
    (root / "SPEC.md").write_text(SPEC)
    toml = root / "harness.toml"
    toml.write_text('[runner]\nkind = "local"\n')
    assert init(root, "openai/fake-model", fake.url) == 5
    err = capsys.readouterr().err
    assert "answered in text instead of calling its tools" in err
    assert "Here is the plan" in err and "internal error" not in err
    assert not (root / "feature_list.json").exists()
