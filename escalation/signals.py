"""The model's doubt, in [0, 1]: hedging words, structured confidence, disagreement of samples.

``combine_uncertainty`` joins the signals by noisy-or: any one strong signal of doubt makes
the whole uncertain. Hedging is kept apart from the structured signals (a confidence the
model stated, N samples that disagree) because an unattended run never stops for a hedge
alone (``escalation.matrix``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from escalation.embed import Embedder, HashedEmbedder, cosine

HEDGES = (
    "i think",
    "i believe",
    "i guess",
    "i suppose",
    "not sure",
    "unsure",
    "not certain",
    "uncertain",
    "unclear",
    "maybe",
    "might",
    "perhaps",
    "probably",
    "possibly",
    "presumably",
    "assume",
    "assuming",
    "it seems",
    "seems to",
    "could be",
    "hopefully",
    "i don't know",
    "do not know",
    "ambiguous",
    "no idea",
    "guess",
)
_HEDGE_RE = re.compile(r"\b(" + "|".join(re.escape(h) for h in HEDGES) + r")\b", re.IGNORECASE)
HEDGE_DECAY = 0.6
"""Each hedge keeps this share of the remaining certainty: 1 → 0.4, 2 → 0.64, 3 → 0.78."""


def hedges(text: str) -> list[str]:
    """The hedging phrases in ``text``, lower-cased, in order of appearance."""
    return [match.group(1).lower() for match in _HEDGE_RE.finditer(text)]


def hedging_score(text: str) -> float:
    """Doubt expressed in words, in [0, 1): 0 with no hedge, rising with each one."""
    return 1.0 - HEDGE_DECAY ** len(hedges(text))


def disagreement(
    samples: Sequence[str],
    *,
    method: Literal["exact", "embedding"] = "exact",
    embedder: Embedder | None = None,
) -> float:
    """How much N candidate answers disagree, in [0, 1] (0 for fewer than two).

    "exact": 1 - share of the most common answer (whitespace and case folded), scaled so
    that N different answers give 1. "embedding": mean pairwise cosine distance.
    """
    n = len(samples)
    if n < 2:
        return 0.0
    if method == "exact":
        counts = Counter(" ".join(s.lower().split()) for s in samples)
        top = counts.most_common(1)[0][1]
        return (1.0 - top / n) / (1.0 - 1.0 / n)
    model = embedder or HashedEmbedder()
    vectors = [model.embed(s) for s in samples]
    distances = [1.0 - cosine(vectors[i], vectors[j]) for i in range(n) for j in range(i + 1, n)]
    return min(1.0, max(0.0, sum(distances) / len(distances)))


def combine_uncertainty(signals: Sequence[float]) -> float:
    """Noisy-or: any one strong signal of doubt makes the whole uncertain."""
    certain = 1.0
    for signal in signals:
        certain *= 1.0 - min(1.0, max(0.0, signal))
    return 1.0 - certain
