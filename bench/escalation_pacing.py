"""Would a question budget enforced at decision time win the learning curve's "budget =
default's rate" row? (``python bench/escalation_pacing.py [--seed N ...] [--mix NAME ...]
[--jobs N]``; the histories, arms and verdicts are ``bench/escalation_curve.py``'s.)

Trains the fixed default and the budget arm exactly as ``escalation_curve.py`` does, then
judges the budget arm on the 2,000 held-out steps four ways, each against the fixed default
(win / tie / 0 vs 0 / loss, the curve's ``Tally``):

- static: the arm's policy as the curve scores it (its "budget = default's rate" row);
- bucket: the held-out steps decided session by session (10 each), a question allowed only
  while a credit of the budget per session, carried over and capped at twice the budget
  (at least 1), holds one: a per-session budget enforced at decision time, first come
  first served above the fitted threshold;
- exact: the arm's own scores asking on exactly the budget's count of held-out steps, the
  highest: what any decision-time pacing that hits the budget and ranks by the arm's score
  can do at best;
- at default count: the same, asking on as many held-out steps as the default does there:
  the arm's ranking alone, the rate set aside.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import escalation_curve as curve  # noqa: E402

WAYS = ("static", "bucket", "exact", "at default count")
Cell = tuple[float, float]


def trained(arm: curve.Arm, history: list[curve.Step], seed: int) -> None:
    """The arm trained on ``history`` by the curve's segments and label seeds."""
    done = 0
    for point in curve.CHECKPOINTS:
        curve.train(arm, history, random.Random(seed + point), done, point)
        done = point


def bucket(escalates: list[bool], budget: float) -> list[bool]:
    """``escalates`` thinned by a carried per-session credit of ``budget`` questions."""
    credit, cap, asks = 0.0, max(1.0, 2 * budget), []
    for index, wants in enumerate(escalates):
        if index % curve.SESSION == 0:
            credit = min(cap, credit + budget)
        ask = wants and credit >= 1.0
        credit -= ask
        asks.append(ask)
    return asks


def run(mix: curve.Mix, seed: int, folder: Path) -> tuple[Cell, float, list[Cell]]:
    """(the default's (recall, asks/100), the budget per session, the budget arm's cells in
    ``WAYS`` order) for one mix and seed."""
    history, held_out, sample = curve.draws(mix, seed)
    default = curve.fixed_config()
    fixed = curve.Arm("fixed", default, False, folder / f"{mix.name}-{seed}-fixed")
    fixed.open()
    trained(fixed, history, seed)
    default_asks = [a for *_, a in curve.scored(fixed, held_out)]
    base = curve.measure(default_asks, held_out)
    budget = curve.SESSION * sum(a for *_, a in curve.scored(fixed, sample)) / curve.SAMPLE
    fixed.close()
    config = default.model_copy(
        update={"learn": True, "target_questions_per_session": max(budget, 0.05)}
    )
    arm = curve.Arm("budget", config, True, folder / f"{mix.name}-{seed}-budget")
    arm.open()
    trained(arm, history, seed)
    decisions = [arm.matrix.decide(s.situation, questions_asked=0, record=False) for s in held_out]
    arm.close()
    scores = [d.total for d in decisions]
    count = round(budget / curve.SESSION * len(held_out))
    cells = [
        curve.measure([d.escalate for d in decisions], held_out),
        curve.measure(bucket([d.escalate for d in decisions], budget), held_out),
        curve.measure(curve.top(scores, count), held_out),
        curve.measure(curve.top(scores, sum(default_asks)), held_out),
    ]
    return base, budget, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", action="append", type=int, help="seeds (default 1, 2, 3)")
    parser.add_argument("--mix", action="append", help="mixes (default: all the curve's)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the runs")
    args = parser.parse_args()
    mixes = [m for m in curve.MIXES if not args.mix or m.name in args.mix]
    tallies = [curve.Tally() for _ in WAYS]
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs) as pool:
        runs = {
            (mix.name, seed): pool.submit(run, mix, seed, Path(tmp))
            for mix in mixes
            for seed in args.seed or [1, 2, 3]
        }
        for (name, seed), job in runs.items():
            base, budget, cells = job.result()
            said = [
                f"{name} {seed}: default {base[0]:4.0%} {base[1]:4.1f}/100, budget "
                f"{curve.SESSION * budget:4.1f}/100"
            ]
            for tally, way, cell in zip(tallies, WAYS, cells, strict=True):
                said.append(f"{way} {cell[0]:4.0%} {cell[1]:4.1f} {tally.add(cell, base)}")
            print("  ".join(said), flush=True)
    for tally, way in zip(tallies, WAYS, strict=True):
        print(f"{way}: {tally}")


if __name__ == "__main__":
    main()
