"""The fit's cost and exactness: harness's own logistic regression (escalation/fit.py, pure
Python, on grouped outcomes) against scikit-learn's ``LogisticRegression`` on the same
data (part 4 of ``bench/escalation.py``; alone: ``python bench/escalation_fit.py``).

Both minimize the same objective: the weighted log-loss of the cells plus ``RIDGE/2``
times the squared coefficients (scikit-learn's C = 1 / RIDGE; neither penalizes the
intercept). The records are synthetic outcomes whose label follows (u, n, b) through a
logistic model with all-positive weights (so the non-negativity of harness's fit is not
what differs). Medians of repeated fits; scikit-learn's import is timed in a fresh process.
scikit-learn is optional: ``pip install scikit-learn`` to see its rows.
"""

from __future__ import annotations

import math
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from escalation.logistic import RIDGE, logistic, rows_of  # noqa: E402
from escalation.record import BINS, Cell  # noqa: E402

TRUE = (-3.0, 2.5, 1.0, 1.5)


def record(count: int, seed: int) -> list[Cell]:
    """``count`` outcomes, grouped by their scores rounded to 1/BINS (as the record does)."""
    rng = random.Random(seed)
    grouped: dict[tuple[float, float, float], list[int]] = {}
    for _ in range(count):
        x = (round(rng.random() * BINS) / BINS, round(rng.random() * BINS) / BINS,
             round(rng.random() * BINS) / BINS)  # fmt: skip
        z = TRUE[0] + sum(w * v for w, v in zip(TRUE[1:], x, strict=True))
        cell = grouped.setdefault(x, [0, 0])
        cell[0] += rng.random() < 1 / (1 + math.exp(-z))
        cell[1] += 1
    return [Cell(*x, p, t) for x, (p, t) in sorted(grouped.items())]


def timed(fn: object, repeat: int) -> tuple[float, object]:
    values, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()  # type: ignore[operator]
        values.append(time.perf_counter() - start)
    return statistics.median(values), result


def sklearn_import_s() -> float | None:
    code = (
        "import time; t = time.perf_counter(); "
        "from sklearn.linear_model import LogisticRegression; print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(done.stdout) if done.returncode == 0 else None


def main(quick: bool = False) -> None:
    print("\n== Part 4: the fit: harness's own logistic regression vs scikit-learn ==")
    imported = sklearn_import_s()
    if imported is None:
        print("scikit-learn is not installed: `pip install scikit-learn` for its rows")
    else:
        print(f"import sklearn.linear_model: {imported * 1000:.0f} ms (a fresh process)")
    print(f"{'outcomes':>9} {'cells':>7} {'harness':>10} {'sklearn':>10} {'ratio':>7} "
          f"{'max |coef diff|':>16}")  # fmt: skip
    for count in (200, 1000, 10_000) if quick else (200, 1000, 10_000, 100_000):
        cells = record(count, seed=count)
        rows = rows_of(cells, 1.0)
        repeat = 5 if count >= 10_000 else 20
        own_s, own = timed(lambda rows=rows: logistic(rows), repeat)
        beta = own[0]  # type: ignore[index]
        line = f"{count:>9} {len(cells):>7} {own_s * 1000:>8.1f}ms"
        if imported is not None:
            sk_s, coef = timed(lambda cells=cells: sklearn_fit(cells), repeat)
            diff = max(abs(a - b) for a, b in zip(beta, coef, strict=True))  # type: ignore[call-overload]
            line += f" {sk_s * 1000:>8.1f}ms {own_s / sk_s:>6.1f}x {diff:>16.2e}"
        print(line)


def sklearn_fit(cells: list[Cell]) -> list[float]:
    """The same objective in scikit-learn: one weighted row per label of each cell."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x, y, w = [], [], []
    for c in cells:
        for label, weight in ((1, c.positives), (0, c.total - c.positives)):
            if weight:
                x.append((c.u, c.n, c.b))
                y.append(label)
                w.append(weight)
    model = LogisticRegression(C=1 / RIDGE, tol=1e-12, max_iter=10_000)
    model.fit(np.array(x), np.array(y), sample_weight=np.array(w, dtype=float))
    return [float(model.intercept_[0]), *(float(v) for v in model.coef_[0])]


if __name__ == "__main__":
    main("--quick" in sys.argv)
