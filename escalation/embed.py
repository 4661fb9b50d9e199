"""Embeddings of situations, for novelty: a local hashed one by default, litellm's if configured.

``HashedEmbedder`` needs no network and no model: word tokens and character 3-grams,
hashed (CRC-32, deterministic across processes) into 512 buckets, sublinear term
frequency, L2-normalized. Its vectors are non-negative, so a bit per non-zero bucket is a
cheap fingerprint: ``nearest`` shortlists by fingerprint overlap (popcount) and reranks the
shortlist by exact cosine.
"""

from __future__ import annotations

import heapq
import math
import operator
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

DIMS = 512
MAX_CHARS = 4000
_WORD = re.compile(r"[a-z0-9_]+")


class Embedder(Protocol):
    """Turns text into a vector; ``name`` tells vectors of different embedders apart."""

    name: str

    def embed(self, text: str) -> list[float]: ...


class HashedEmbedder:
    """Feature-hashed words and character 3-grams: local, deterministic, fast."""

    def __init__(self, dims: int = DIMS) -> None:
        self.dims = dims
        self.name = f"hashed-{dims}"

    def embed(self, text: str) -> list[float]:
        """The L2-normalized hashed term-frequency vector of ``text``."""
        text = text.lower()[:MAX_CHARS]
        counts: dict[int, int] = {}
        dims = self.dims
        crc = zlib.crc32
        for word in _WORD.findall(text):
            bucket = crc(b"w:" + word.encode()) % dims
            counts[bucket] = counts.get(bucket, 0) + 1
            padded = f" {word} "
            for i in range(len(padded) - 2):
                bucket = crc(padded[i : i + 3].encode()) % dims
                counts[bucket] = counts.get(bucket, 0) + 1
        vector = [0.0] * dims
        for bucket, count in counts.items():
            vector[bucket] = 1.0 + math.log(count)
        return normalize(vector)


class LitellmEmbedder:
    """Embeddings from a provider through litellm (network); imported on first use.

    Errors are the gateway's: a refused key or an unknown model is ``ModelFatal`` (exit 2,
    the step stays in flight until the config is fixed); anything else (no connection, 5xx,
    rate limits), once the provider SDK under litellm has retried it twice (litellm 1.106
    ignores ``max_retries`` for embeddings), is ``ProviderUnavailable``: the run waits and
    resumes at the same step.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key_env: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.api_base = api_base
        self.api_key_env = api_key_env
        self.environ = environ
        self.name = f"litellm:{model}"

    def embed(self, text: str) -> list[float]:
        """Call ``litellm.embedding`` for one text."""
        # lazy: the model layer (and litellm) load on the first embedding only
        from harness.errors import ModelFatal, ProviderUnavailable  # noqa: PLC0415
        from harness.model.credentials import credentials  # noqa: PLC0415
        from harness.model.names import import_litellm, provider_of  # noqa: PLC0415

        litellm = import_litellm()
        kwargs: dict[str, Any] = {}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        environ = os.environ if self.environ is None else self.environ
        # The key (embedding_api_key_env, else the provider's usual variable) and the
        # several credentials of AWS, Vertex AI, Azure AD: from the run's environment.
        kwargs.update(credentials(provider_of(litellm, self.model), environ, self.api_key_env))
        fatal = (
            litellm.AuthenticationError,
            litellm.PermissionDeniedError,
            litellm.NotFoundError,
            litellm.BadRequestError,
        )
        try:
            response = litellm.embedding(model=self.model, input=[text[:MAX_CHARS]], **kwargs)
            item = response.data[0]
            raw = item["embedding"] if isinstance(item, dict) else item.embedding
            return normalize([float(x) for x in raw])
        except fatal as error:
            raise ModelFatal(
                f"the embedding model {self.model!r} ([escalation] embedding_model) refused "
                f"the request: {type(error).__name__}. Fix the name or the key "
                "(embedding_api_key_env), or unset embedding_model for the local embedder"
            ) from error
        except Exception as error:  # any other failure is the provider's
            raise ProviderUnavailable(
                f"the embedding model {self.model!r} could not be reached: "
                f"{type(error).__name__}; `harness run` goes on from here once it answers",
                what=type(error).__name__,
            ) from error


def make_embedder(
    model: str | None = None,
    *,
    api_base: str | None = None,
    api_key_env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Embedder:
    """The local hashed embedder, or litellm's for ``model`` when one is named."""
    if not model:
        return HashedEmbedder()
    return LitellmEmbedder(model, api_base=api_base, api_key_env=api_key_env, environ=environ)


def normalize(vector: list[float]) -> list[float]:
    """``vector`` scaled to unit length (the zero vector stays zero)."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two unit vectors (their dot product)."""
    return float(sum(map(operator.mul, a, b)))


def fingerprint(vector: Sequence[float]) -> int:
    """One bit per positive component."""
    bits = 0
    for index, value in enumerate(vector):
        if value > 0:
            bits |= 1 << index
    return bits


@dataclass
class VectorIndex:
    """Unit vectors in memory, with the nearest-neighbour query novelty needs."""

    shortlist: int = 16
    vectors: list[list[float]] = field(default_factory=list)
    prints: list[int] = field(default_factory=list)
    inv_sqrt_bits: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.vectors)

    def add(self, vector: list[float]) -> None:
        bits = fingerprint(vector)
        count = bits.bit_count()
        self.vectors.append(vector)
        self.prints.append(bits)
        self.inv_sqrt_bits.append(1.0 / math.sqrt(count) if count else 0.0)

    def nearest(self, vector: list[float], *, exact: bool = False) -> float:
        """The largest cosine similarity of ``vector`` to a stored one (0.0 when empty).

        Shortlists by fingerprint overlap unless ``exact`` or the index is small; exact
        for non-negative vectors whose nearest neighbour is also nearest by overlap.
        """
        if not self.vectors:
            return 0.0
        if exact or len(self.vectors) <= self.shortlist or min(vector) < 0:
            return max(0.0, max(cosine(vector, other) for other in self.vectors))
        bits = fingerprint(vector)
        scores = [
            (bits & other).bit_count() * inv
            for other, inv in zip(self.prints, self.inv_sqrt_bits, strict=True)
        ]
        best = heapq.nlargest(self.shortlist, range(len(scores)), key=scores.__getitem__)
        return max(0.0, max(cosine(vector, self.vectors[i]) for i in best))
