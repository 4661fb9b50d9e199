"""Would the learned ranking, paced to what the configured default would ask on the same
decisions, win the learning curve's budget row? (``python bench/escalation_shadow.py
[--seed N ...] [--mix NAME ...] [--jobs N] [--keep DIR] [--benefit own|shadow]``; the
histories, arms and verdicts are ``bench/escalation_curve.py``'s.)

The budget arm loses its row on the rate (``bench/escalation_budget.py``): its budget is
counted on other steps than the held-out ones it is judged on. The default's decision needs
no label: a harness can score every live decision under the configured weights and
threshold too (the "shadow" default) and ask on the learned ranking as often as the shadow
would, on the same decisions. This bench trains such an arm ("paced") on the curve's
history, once on its own record ("own") and once with the user record of
``bench/escalation_prior.py`` ("prior"):

- each decision is scored by the real ``Matrix`` (uncertainty, novelty, benefit from the
  arm's record); the shadow asks when the configured weights' score of (u, n, b') is above
  the configured threshold, where b' is the arm's own benefit (``--benefit own``: what the
  matrix computes) or the benefit counted, with the matrix's shrinkage, on the answers to
  the questions the shadow itself would have asked (``--benefit shadow``: the default's
  estimate, as near as the arm's record allows);
- the arm asks when its score under the weights of its newest fit (the logistic
  coefficients, whether a held-out check would put them in force or not: the best ranking
  the record gives, ``escalation_budget``'s "fit @ default's count") ranks among the
  shadow's asks over the last ``WINDOW`` decisions, and a credit that each shadow ask adds
  to (capped at ``CAP``) and each question spends holds one;
- it records the outcomes and refits after every session, as the curve's arms do.

Judged on the curve's 2,000 held-out steps (decided in order, the window and credit
carried from the training), against the fixed default with the same record source (win /
tie / 0 vs 0 / loss, the curve's ``Tally``; the default's own rows are
``escalation_budget``'s, reused from ``--keep DIR`` when it holds that run):

- paced: window and credit, as trained;
- window: the window alone (no credit);
- top @ shadow's count: asking on exactly as many held-out steps as the shadow does, the
  highest-scored: the best any pacing to the shadow can do;
- top @ default's count: asking on exactly as many as the fixed default does there (no
  harness knows that count): the weights' ranking alone.

The figure that decides it is how far the shadow's count is from the fixed default's on
the same steps (printed per run and summed up): benefit is counted on the questions each
arm itself asked, so the shadow inside an arm that asks other questions is not the fixed
default.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from artifacts.config import EscalationConfig  # noqa: E402
from bench import escalation_budget as budget_bench  # noqa: E402
from bench import escalation_curve as curve  # noqa: E402
from bench import escalation_prior as with_prior  # noqa: E402
from escalation.learn import refit  # noqa: E402
from escalation.matrix import benefit_estimate  # noqa: E402
from escalation.outcomes import Outcome  # noqa: E402

WINDOW = 300
"""Decisions over which the learned scores' quantile is matched to the shadow's asks."""
CAP = 2.0
"""The most credit (shadow asks not yet spent) carried."""
WAYS = ("paced", "window", "top @ shadow's count", "top @ default's count")
Scores = tuple[float, float, float]


class Pace:
    """Asks on the learned ranking as often as the shadow asks (module docstring)."""

    def __init__(self, *, cap: float = CAP, credit: bool = True) -> None:
        self.window: deque[tuple[Scores, bool]] = deque(maxlen=WINDOW)
        self.credit = 0.0
        self.cap = cap
        self.use_credit = credit

    def decide(self, x: Scores, shadow: bool, weights: Sequence[float]) -> bool:
        self.window.append((x, shadow))
        self.credit = min(self.cap, self.credit + shadow)
        score = _score(weights, x)
        wanted = sum(s for _, s in self.window)
        above = sum(1 for y, _ in self.window if _score(weights, y) > score + 1e-12)
        ask = above < wanted
        if self.use_credit:
            ask = ask and self.credit >= 1.0
            self.credit -= ask
        return ask


def _score(weights: Sequence[float], x: Sequence[float]) -> float:
    return sum(w * v for w, v in zip(weights, x, strict=True))


class ShadowBenefit:
    """The benefit of a topic counted on the answers to the questions the shadow would
    have asked, shrunk as ``Matrix.benefit`` shrinks (the curve has one task type)."""

    def __init__(self, arm: curve.Arm) -> None:
        self.arm = arm
        self.counts: dict[str, tuple[int, int]] = {}
        self.rate: dict[str, float] = {}

    def of(self, topic: str) -> float:
        if topic not in self.rate:
            rate = 0.5
            if self.arm.prior is not None:
                other = self.arm.prior.answered(topic, other_than=self.arm.project)
                rate = benefit_estimate(other.mattered, other.total)
            self.rate[topic] = rate
        mattered, total = self.counts.get(topic, (0, 0))
        here = (mattered + 2 * self.rate[topic]) / (total + 2)
        return (mattered + 2 * here) / (total + 2)

    def add(self, topic: str, mattered: bool) -> None:
        m, t = self.counts.get(topic, (0, 0))
        self.counts[topic] = (m + mattered, t + 1)


def shadow_asks(x: Scores, config: EscalationConfig) -> bool:
    weights = (config.w_uncertainty, config.w_novelty, config.w_benefit)
    return _score(weights, x) > config.threshold


def train(
    arm: curve.Arm, history: list[curve.Step], seed: int, pace: Pace, shadow: ShadowBenefit | None
) -> None:
    """The paced arm trained on ``history`` by the curve's segments, sessions and labels."""
    done = 0
    for point in curve.CHECKPOINTS:
        rng = random.Random(seed + point)
        for first in range(done, point, curve.SESSION):
            outcomes, answered = [], []
            weights = curve.fitted_weights(arm)
            for index in range(first, min(point, first + curve.SESSION)):
                step = history[index]
                session = index // curve.SESSION
                d = arm.matrix.decide(
                    step.situation.model_copy(update={"session": session}), questions_asked=0
                )
                x = (d.uncertainty, d.novelty, d.benefit)
                seen = x if shadow is None else (x[0], x[1], shadow.of(d.topic))
                would = shadow_asks(seen, arm.config)
                ask = pace.decide(x, would, weights)
                label = curve.observed_label(rng, ask, step.should_ask)
                if ask and would:
                    answered.append((d.topic, label))
                outcomes.append(
                    Outcome(
                        key=f"s{index}", source="turn", topic=d.topic, situation=f"s{index}",
                        run="bench", session=session, uncertainty=d.uncertainty,
                        structured=d.structured, novelty=d.novelty, benefit=d.benefit,
                        score=d.total, threshold=d.threshold, weights=weights, asked=ask,
                        should_ask=label,
                    )
                )  # fmt: skip
            arm.record.add(arm.project, outcomes)
            if shadow is not None:
                for topic, mattered in answered:
                    shadow.add(topic, mattered)
            refit(arm.record, arm.prior, arm.config, key=f"fit{first}")
        done = point


def run(mix: curve.Mix, seed: int, keep: Path, user: Path, benefit: str) -> Path:
    """Train the paced arm of one run, own and with the prior, and the fixed default unless
    ``escalation_budget`` left it in ``keep``; keep what the judge reads."""
    here = keep / f"{mix.name.replace(' ', '_')}-{seed}"
    done = here / f"shadow-{benefit}.json"
    if done.exists():
        return here
    folder = here / f"shadow-{benefit}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    history, held_out, _ = curve.draws(mix, seed)
    default = curve.fixed_config()
    reference = here / "done.json"
    fixed = json.loads(reference.read_text()) if reference.exists() else None
    found: dict[str, Any] = {
        "truth": [s.should_ask for s in held_out],
        "topics": [s.situation.topic for s in held_out],
    }
    for tag in budget_bench.TAGS:
        place = folder / tag
        place.mkdir()
        mine = shutil.copyfile(user, place / with_prior.USER_FILE) if tag == "prior" else None
        if fixed is not None:
            fixed_seen = fixed[tag]["fixed_seen"]
        else:
            arm = curve.Arm("fixed", default, False, place / "fixed", user=mine)
            arm.open()
            budget_bench.trained(arm, history, seed)
            fixed_seen = curve.scored(arm, held_out)
            arm.close()
        arm = curve.Arm("paced", default.model_copy(update={"learn": True}), True,
                        place / "paced", user=mine)  # fmt: skip
        arm.open()
        pace = Pace()
        shadow = ShadowBenefit(arm) if benefit == "shadow" else None
        train(arm, history, seed, pace, shadow)
        found[tag] = {
            "fixed_seen": fixed_seen,
            "seen": curve.scored(arm, held_out),
            "weights": curve.fitted_weights(arm),
            "window": [[*x, s] for x, s in pace.window],
            "credit": pace.credit,
            "benefit": {t: shadow.of(t) for t in curve.TOPICS} if shadow else None,
        }
        arm.close()
    done.write_text(json.dumps(found))
    return here


def judge(here: Path, benefit: str, tag: str) -> tuple[curve.Row, float, list[curve.Row]]:
    """(the default's (recall, asks/100), the shadow's asks/100, the paced arm's cells in
    ``WAYS`` order) for one run."""
    data = json.loads((here / f"shadow-{benefit}.json").read_text())
    truth, kept = data["truth"], data[tag]
    config = EscalationConfig()
    fixed = [a for *_, a in kept["fixed_seen"]]
    base = budget_bench.measure(fixed, truth)
    weights = tuple(kept["weights"])
    xs: list[Scores] = [(u, n, b) for u, n, b, _ in kept["seen"]]
    if kept["benefit"] is not None:
        shadow = [
            shadow_asks((x[0], x[1], kept["benefit"][t]), config)
            for x, t in zip(xs, data["topics"], strict=True)
        ]
    else:
        shadow = [shadow_asks(x, config) for x in xs]
    cells = []
    for credit in (True, False):
        pace = Pace(credit=credit)
        for *x, s in kept["window"]:
            pace.window.append(((x[0], x[1], x[2]), bool(s)))
        pace.credit = kept["credit"]
        asks = [pace.decide(x, s, weights) for x, s in zip(xs, shadow, strict=True)]
        cells.append(budget_bench.measure(asks, truth))
    scores = [_score(weights, x) for x in xs]
    cells.append(budget_bench.measure(curve.top(scores, sum(shadow)), truth))
    cells.append(budget_bench.measure(curve.top(scores, sum(fixed)), truth))
    return base, 100 * sum(shadow) / len(truth), cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", action="append", type=int, help="seeds (default 1, 2, 3)")
    parser.add_argument("--mix", action="append", help="mixes (default: all the curve's)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the runs")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep (and reuse) the runs here; the default's rows of escalation_budget's "
        "--keep runs in the same folder are reused",
    )
    parser.add_argument(
        "--benefit",
        choices=("own", "shadow"),
        default="own",
        help="the shadow's benefit: the arm's own, or counted on the shadow's own questions",
    )
    args = parser.parse_args()
    mixes = [m for m in curve.MIXES if not args.mix or m.name in args.mix]
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs) as pool:
        keep = args.keep or Path(tmp)
        user = with_prior.user_record_in(keep, pool)
        jobs = [
            pool.submit(run, mix, seed, keep, user, args.benefit)
            for seed in args.seed or [1, 2, 3]
            for mix in mixes
        ]
        done = [job.result() for job in jobs]
    for tag in budget_bench.TAGS:
        said = f"shadow's benefit {args.benefit}, {tag} record"
        print(f"\n== paced arm ({said}) against the default, after 1,000 outcomes ==")
        tallies = [curve.Tally() for _ in WAYS]
        off: list[list[float]] = [[] for _ in (*WAYS, "shadow")]
        for here in done:
            base, shadow, ways = judge(here, args.benefit, tag)
            said = [
                f"{here.name:<18} default {base[0]:4.0%} {base[1]:4.1f}/100 shadow {shadow:4.1f}"
            ]
            for tally, way, cell in zip(tallies, WAYS, ways, strict=True):
                said.append(f"{way}: {cell[0]:4.0%} {cell[1]:4.1f} {tally.add(cell, base)}")
            if base[1] > 0:  # how far each asks from the default, where it asks
                for diffs, rate in zip(off, [c[1] for c in ways] + [shadow], strict=True):
                    diffs.append(rate - base[1])
            print("  ".join(said), flush=True)
        for tally, way, diffs in zip([*tallies, None], [*WAYS, "shadow"], off, strict=True):
            head = f"  {tag} {way}: {tally}" if tally is not None else f"  {tag} {way}"
            print(head)
            if diffs:
                print(
                    f"    asks minus the default's per 100, over the {len(diffs)} runs where it "
                    f"asks: median {statistics.median(diffs):+.2f}, sd "
                    f"{statistics.pstdev(diffs):.2f}, {min(diffs):+.2f} to {max(diffs):+.2f}"
                )


if __name__ == "__main__":
    main()
