"""This checkout against a base commit, round by round (bench/journal.py's A/B).

Each round runs the two back to back (which goes first alternates), so a round's ratio
(this / base) compares two loops that met the same load; the rounds' ratios give the
median and the interval that the run's own noise allows, for the per-step wall median and
for the CPU time per step.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

MEASURES = (("wall", "median_us"), ("CPU", "cpu_us"))


def pair_order(round_no: int, this: str, base: str) -> tuple[str, str]:
    """Which of the two runs first in round ``round_no`` (alternating)."""
    return (this, base) if round_no % 2 == 0 else (base, this)


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """The interval that holds the median of what ``values`` sample with ``confidence``,
    from their order statistics alone (binomial, no assumption on the distribution);
    None when there are too few values for that confidence (fewer than 6 for 95%)."""
    ordered = sorted(values)
    n = len(ordered)
    tail = (1 - confidence) / 2
    k, below = 0, 0.0  # below: P(Binomial(n, 1/2) < k)
    while below + math.comb(n, k) / 2**n <= tail:
        below += math.comb(n, k) / 2**n
        k += 1
    return None if k == 0 else (ordered[k - 1], ordered[n - k])


def ratios(this: list[dict[str, Any]], base: list[dict[str, Any]], key: str) -> list[float]:
    """This / base for each round where both measured ``key``."""
    return [a[key] / b[key] for a, b in zip(this, base, strict=True)
            if key in a and key in b and b[key]]  # fmt: skip


def report(this: list[dict[str, Any]], base: list[dict[str, Any]], label: str) -> list[str]:
    """Print the per-round ratios' median, interval and range; the target lines (this no
    slower than the base: the median ratio at most 1.00)."""
    print(f"\nper step, this / {label}, round by round    {'wall':>18}{'CPU':>18}")
    found = {name: ratios(this, base, key) for name, key in MEASURES}
    rows: list[tuple[str, Callable[[list[float]], str]]] = [
        ("rounds", lambda r: f"{len(r)}"),
        ("median of the ratios", lambda r: f"{statistics.median(r):.3f}" if r else "n/a"),
        ("95% interval of that median", _interval_text),
        ("lowest - highest round", lambda r: f"{min(r):.2f} - {max(r):.2f}" if r else "n/a"),
    ]
    for name, show in rows:
        print(f"  {name:<38}{show(found['wall']):>18}{show(found['CPU']):>18}")
    print("  each round runs both loops back to back, which first alternating; the interval is")
    print("  the rounds' own noise (order statistics): a median inside it is as good as 1.00")
    targets = []
    for name, values in found.items():
        targets.append(f"SQLite NORMAL no slower than the base, {name}: {_verdict(values)}")
    return targets


def _interval_text(values: list[float]) -> str:
    found = median_interval(values)
    return "too few rounds" if found is None else f"{found[0]:.3f} - {found[1]:.3f}"


def _verdict(values: list[float]) -> str:
    if not values:
        return "NOT shown (no round measured both)"
    median = statistics.median(values)
    if median <= 1.0:
        return f"met (median ratio {median:.3f})"
    found = median_interval(values)
    if found is not None and found[0] <= 1.0:
        return (f"NOT met, within the noise (median ratio {median:.3f}; its 95% interval "
                f"{found[0]:.3f} - {found[1]:.3f} holds 1.00)")  # fmt: skip
    return f"NOT met (median ratio {median:.3f})"
