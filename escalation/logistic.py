"""A logistic regression with non-negative coefficients, in pure Python (the fit's core).

P(y | x) = σ(c + a·x) for x = (uncertainty, novelty, benefit), fitted by Newton's method
(iteratively reweighted least squares) on weighted rows (outcomes grouped in cells), with
an L2 penalty ``RIDGE`` on a (not on c), so that a record that separates perfectly still
has one answer. A coefficient that comes out negative is pinned at 0 and the rest refitted
(an active set). Sums run in a fixed order: the same rows give the same floats anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from escalation.record import Cell

RIDGE = 1.0
MAX_ITERATIONS = 100
TOLERANCE = 1e-10
Hook = Callable[[int, Sequence[float]], None]
"""Called after each Newton iteration with (iteration, coefficients): tests inject it."""


@dataclass(frozen=True)
class Row:
    x: tuple[float, float, float]
    positives: float
    total: float


def rows_of(cells: Sequence[Cell], weight: float) -> list[Row]:
    return [Row((c.u, c.n, c.b), c.positives * weight, c.total * weight) for c in cells]


def logistic(rows: Sequence[Row], *, hook: Hook | None = None) -> tuple[list[float], int]:
    """(c, a_u, a_n, a_b) maximizing the penalized likelihood with a >= 0; iterations used."""
    active = [0, 1, 2]
    used = 0
    while True:
        beta, iterations = _newton(rows, active, hook=hook, start=used)
        used += iterations
        negative = [j for j in active if beta[j + 1] < 0]
        if not negative:
            return beta, used
        active.remove(min(negative, key=lambda j: beta[j + 1]))


def _newton(
    rows: Sequence[Row], active: list[int], *, hook: Hook | None, start: int
) -> tuple[list[float], int]:
    size = len(active) + 1
    data = [([1.0, *(row.x[j] for j in active)], row.positives, row.total) for row in rows]
    pairs = [(i, k) for i in range(size) for k in range(i, size)]
    theta = [0.0] * size
    previous = _penalized(data, theta)
    for iteration in range(1, MAX_ITERATIONS + 1):
        gradient = [0.0] * size
        upper = [0.0] * len(pairs)
        for features, positives, total in data:
            p = _sigmoid(sum(t * f for t, f in zip(theta, features, strict=True)))
            residual = positives - total * p
            curvature = total * p * (1.0 - p)
            for i in range(size):
                gradient[i] += residual * features[i]
            for index, (i, k) in enumerate(pairs):
                upper[index] += curvature * features[i] * features[k]
        hessian = [[0.0] * size for _ in range(size)]
        for index, (i, k) in enumerate(pairs):
            hessian[i][k] = hessian[k][i] = upper[index]
        for i in range(1, size):
            gradient[i] -= RIDGE * theta[i]
            hessian[i][i] += RIDGE
        step = solve(hessian, gradient)
        scale = 1.0
        while True:  # halve the step until the penalized likelihood does not fall
            candidate = [t + scale * s for t, s in zip(theta, step, strict=True)]
            value = _penalized(data, candidate)
            if value >= previous - 1e-12 or scale < 1e-6:
                break
            scale /= 2
        theta, previous = candidate, value
        if hook is not None:
            hook(start + iteration, _expand(theta, active))
        if max(abs(scale * s) for s in step) < TOLERANCE:
            return _expand(theta, active), iteration
    return _expand(theta, active), MAX_ITERATIONS


def _expand(theta: Sequence[float], active: Sequence[int]) -> list[float]:
    beta = [theta[0], 0.0, 0.0, 0.0]
    for position, j in enumerate(active):
        beta[j + 1] = theta[position + 1]
    return beta


def _penalized(data: Sequence[tuple[list[float], float, float]], theta: Sequence[float]) -> float:
    value = 0.0
    for features, positives, total in data:
        z = sum(t * f for t, f in zip(theta, features, strict=True))
        # log σ(z) and log(1 - σ(z)), stable for large |z|
        value -= positives * _softplus(-z) + (total - positives) * _softplus(z)
    return value - 0.5 * RIDGE * sum(t * t for t in theta[1:])


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix·x = vector (Gaussian elimination, partial pivoting; matrix is SPD here)."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-15:
            continue
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for k in range(col, n + 1):
                a[r][k] -= factor * a[col][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        if abs(a[r][r]) < 1e-15:
            continue
        x[r] = (a[r][n] - sum(a[r][k] * x[k] for k in range(r + 1, n))) / a[r][r]
    return x
