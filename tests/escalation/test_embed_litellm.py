"""Novelty from a litellm embedding model (`[escalation] embedding_model`), over real HTTP to
a local OpenAI-compatible server: the key comes from the named variable, repeated
situations are not novel, and provider failures are the gateway's errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from artifacts.config import EscalationConfig
from escalation.embed import LitellmEmbedder, make_embedder
from escalation.matrix import Matrix, Situation
from escalation.questions import QuestionStore
from harness.errors import ModelFatal, ProviderUnavailable
from tests.harness.http_fake import FakeOpenAI, Status, error_body


def embedding(body: dict[str, Any]) -> dict[str, Any]:
    """A bag-of-words vector of 16 buckets per input: similar texts, similar vectors."""
    data = []
    for index, text in enumerate(body.get("input") or []):
        vector = [0.0] * 16
        for word in str(text).lower().split():
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % 16] += 1.0
        data.append({"object": "embedding", "index": index, "embedding": vector})
    return {"object": "list", "data": data, "model": "fake-embed",
            "usage": {"prompt_tokens": 3, "total_tokens": 3}}  # fmt: skip


@pytest.fixture
def server() -> Any:
    with FakeOpenAI() as fake:
        fake.reply = embedding
        yield fake


def embedder(server: Any) -> LitellmEmbedder:
    found = make_embedder(
        "openai/fake-embed",
        api_base=server.url,
        api_key_env="EMBED_KEY",
        environ={"EMBED_KEY": "sk-embed-test-123"},
    )
    assert isinstance(found, LitellmEmbedder)
    return found


def test_novelty_comes_from_the_configured_embedding_model(server: Any, project: Path) -> None:
    with QuestionStore(project / ".harness") as store:
        matrix = Matrix(EscalationConfig(), store, embedder=embedder(server))
        first = matrix.decide(Situation(text="rotate the tls certificates of the api"))
        again = matrix.decide(Situation(text="rotate the tls certificates of the api"))
        other = matrix.decide(Situation(text="choose a date parsing library for imports"))
    assert first.embedder == "litellm:openai/fake-embed"
    assert first.novelty == 1.0 and again.novelty < 1e-6 and other.novelty > 0.3
    posts = [r for r in server.requests if r.path.endswith("/embeddings")]
    assert len(posts) == 3
    assert posts[0].headers.get("Authorization") == "Bearer sk-embed-test-123"


def test_a_refused_key_is_fatal_and_says_what_to_fix(server: Any) -> None:
    server.faults = [Status(401, error_body("bad key", "invalid_request_error"))]
    with pytest.raises(ModelFatal, match=r"embedding_model.*refused"):
        embedder(server).embed("x")


def test_a_failing_provider_makes_the_run_wait(server: Any) -> None:
    server.faults = [Status(503, error_body("overloaded"))] * 5
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        embedder(server).embed("x")
    assert len(server.requests) == 3  # the SDK's own two retries, then the run waits
