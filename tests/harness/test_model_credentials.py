"""A provider's credentials come from the run's environment, never the process's: the key
of a single-key provider, the several variables of AWS, Vertex AI and Azure AD, and the
embedding model's key (over real HTTP to a local server; litellm would otherwise read
the process environment, so two runs in one process would share one account)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from escalation.embed import make_embedder
from harness.errors import HarnessError, ModelFatal
from harness.model import LitellmModel
from harness.model.credentials import credentials
from tests.escalation.test_embed_litellm import embedding
from tests.harness.http_fake import FakeOpenAI
from tests.harness.model_support import TOOLS, Cfg, FakeTime, user

RUN = {
    "AWS_ACCESS_KEY_ID": "AKIARUNRUNRUNRUN0001",
    "AWS_SECRET_ACCESS_KEY": "run-secret",
    "AWS_REGION": "eu-west-1",
    "VERTEXAI_PROJECT": "run-project",
    "GOOGLE_APPLICATION_CREDENTIALS": "/run/sa.json",
    "AZURE_AD_TOKEN": "ad-token-of-the-run",
    "AZURE_TENANT_ID": "run-tenant",
}


def test_each_provider_takes_its_credentials_from_the_given_environment() -> None:
    assert credentials("bedrock", RUN) == {
        "aws_access_key_id": "AKIARUNRUNRUNRUN0001",
        "aws_secret_access_key": "run-secret",
        "aws_region_name": "eu-west-1",
    }
    assert credentials("vertex_ai", RUN) == {
        "vertex_project": "run-project",
        "vertex_credentials": "/run/sa.json",
    }
    assert credentials("azure", {**RUN, "AZURE_API_KEY": "az-key"}) == {
        "api_key": "az-key",
        "azure_ad_token": "ad-token-of-the-run",
        "tenant_id": "run-tenant",
    }
    assert credentials("openai", {"OPENAI_API_KEY": "sk-a", "MY_KEY": "sk-b"}) == {
        "api_key": "sk-a"
    }
    assert credentials("openai", {"OPENAI_API_KEY": "sk-a", "MY_KEY": "sk-b"}, "MY_KEY") == {
        "api_key": "sk-b"
    }
    assert credentials("anthropic", {}) == {}


@pytest.fixture
def fake() -> FakeOpenAI:
    with FakeOpenAI() as server:
        yield server


def test_azure_ad_token_of_the_run_reaches_the_server(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_AD_TOKEN", "ad-token-of-the-process")
    monkeypatch.delenv("AZURE_API_KEY", raising=False)
    cfg = Cfg(name="azure/deploy-1", api_base=fake.url, api_version="2024-06-01",
              timeout_s=5.0, retry_deadline_s=5.0)  # fmt: skip
    environ = {"AZURE_AD_TOKEN": RUN["AZURE_AD_TOKEN"]}
    model = LitellmModel(cfg, project_root=tmp_path, environ=environ, rng=random.Random(7),
                         sleep=FakeTime().sleep)  # fmt: skip
    model.complete(user("go"), TOOLS)
    posts = [r for r in fake.requests if "/chat/completions" in r.path]
    assert posts, [r.path for r in fake.requests]
    assert posts[0].headers.get("Authorization") == "Bearer ad-token-of-the-run"


def test_aws_keys_of_the_run_sign_the_bedrock_request(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPROCESSPROCESS01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "process-secret")
    cfg = Cfg(name="bedrock/anthropic.claude-3-haiku-20240307-v1:0", api_base=fake.url,
              timeout_s=5.0, retry_deadline_s=2.0)  # fmt: skip
    model = LitellmModel(cfg, project_root=tmp_path, environ=RUN, rng=random.Random(7),
                         sleep=FakeTime().sleep)  # fmt: skip
    with pytest.raises(HarnessError):
        model.complete(user("go"), TOOLS)  # the fake answers in OpenAI's shape, not Bedrock's
    assert fake.requests, "no request reached the server"
    signed = fake.requests[0].headers.get("Authorization", "")
    assert "Credential=AKIARUNRUNRUNRUN0001/" in signed and "/eu-west-1/bedrock/" in signed


def test_the_embedding_model_key_is_the_runs(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.reply = embedding
    monkeypatch.setenv("OPENAI_API_KEY", "sk-of-the-process")
    embedder = make_embedder("openai/fake-embed", api_base=fake.url,
                             environ={"OPENAI_API_KEY": "sk-of-the-run"})  # fmt: skip
    embedder.embed("rotate the certificates")
    posts = [r for r in fake.requests if r.path.endswith("/embeddings")]
    assert posts[0].headers.get("Authorization") == "Bearer sk-of-the-run"


def test_the_other_aws_variables_litellm_reads_are_the_runs() -> None:
    run = {"AWS_ROLE_NAME": "arn:aws:iam::1:role/run", "AWS_SESSION_NAME": "run-session",
           "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    assert credentials("bedrock", run) == {
        "aws_role_name": "arn:aws:iam::1:role/run",
        "aws_session_name": "run-session",
        "aws_region_name": "eu-west-1",
    }


def process_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The process's own AWS account: keys, a profile and its files (never to be used)."""
    other = tmp_path / "process-credentials"
    other.write_text("[work]\naws_access_key_id = AKIAPROCESSFILE00001\n"
                     "aws_secret_access_key = process-file-secret\n")  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPROCESSPROCESS01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "process-secret")
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(other))


def test_the_runs_aws_profile_in_the_runs_files_signs_the_bedrock_request(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    process_aws(monkeypatch, tmp_path)
    home = tmp_path / "run-home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[work]\naws_access_key_id = AKIARUNPROFILE000001\naws_secret_access_key = run-s\n"
    )
    (home / ".aws" / "config").write_text("[profile work]\nregion = ap-south-1\n")
    cfg = Cfg(name="bedrock/anthropic.claude-3-haiku-20240307-v1:0", api_base=fake.url,
              timeout_s=5.0, retry_deadline_s=2.0)  # fmt: skip
    environ = {"HOME": str(home), "AWS_PROFILE": "work"}
    model = LitellmModel(cfg, project_root=tmp_path, environ=environ, rng=random.Random(7),
                         sleep=FakeTime().sleep)  # fmt: skip
    with pytest.raises(HarnessError):
        model.complete(user("go"), TOOLS)  # the fake answers in OpenAI's shape, not Bedrock's
    assert fake.requests, "no request reached the server"
    signed = fake.requests[0].headers.get("Authorization", "")
    assert "Credential=AKIARUNPROFILE000001/" in signed and "/ap-south-1/bedrock/" in signed


def test_a_profile_missing_from_the_runs_files_is_said_and_nothing_is_sent(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    process_aws(monkeypatch, tmp_path)  # the process's files do have a "work" profile
    cfg = Cfg(name="bedrock/anthropic.claude-3-haiku-20240307-v1:0", api_base=fake.url,
              timeout_s=5.0, retry_deadline_s=2.0)  # fmt: skip
    environ = {"HOME": str(tmp_path / "empty-home"), "AWS_PROFILE": "work",
               "AWS_REGION": "eu-west-1"}  # fmt: skip
    model = LitellmModel(cfg, project_root=tmp_path, environ=environ, rng=random.Random(7),
                         sleep=FakeTime().sleep)  # fmt: skip
    with pytest.raises(ModelFatal) as raised:
        model.complete(user("go"), TOOLS)
    assert "'work'" in str(raised.value) and "empty-home" in str(raised.value)
    assert not fake.requests


def test_googles_application_default_credentials_are_the_runs_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = tmp_path / "process-gcloud"
    process.mkdir()
    (process / "application_default_credentials.json").write_text("{}")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(process))
    run_home = tmp_path / "run-home"
    adc = run_home / ".config" / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir(parents=True)
    adc.write_text('{"type": "authorized_user"}')
    run = {"HOME": str(run_home), "VERTEXAI_PROJECT": "p"}
    assert credentials("vertex_ai", run) == {"vertex_project": "p", "vertex_credentials": str(adc)}
    # the run's own variable wins; a run without a HOME or CLOUDSDK_CONFIG names no file
    assert (
        credentials("vertex_ai", {**run, "GOOGLE_APPLICATION_CREDENTIALS": "/sa.json"})[
            "vertex_credentials"
        ]
        == "/sa.json"
    )
    assert credentials("vertex_ai", {"VERTEXAI_PROJECT": "p"}) == {"vertex_project": "p"}
