"""Could any threshold a deployed harness can set win the learning curve's budget rows?
(``python bench/escalation_budget.py [--seed N ...] [--mix NAME ...] [--jobs N] [--keep
DIR]``; the histories, arms and verdicts are ``bench/escalation_curve.py``'s.)

Per run (mix x seed) it trains, as the curve does, the fixed default and the budget arm
(a question budget per session equal to what the default asks on the curve's 2,000 sample
steps), once on their own record ("own") and once with the user record of
``bench/escalation_prior.py`` ("prior"), then judges the budget arm's newest fit on the
2,000 held-out steps several ways, each against the fixed default with the same record
source (win / tie / 0 vs 0 / loss, the curve's ``Tally``). The ways differ only in the
weights and in what the threshold is set on:

- in force: the arm's policy as the curve scores it (its rows "budget = default's rate"
  and "budget+prior = default+prior's rate");
- fit @ default's count: the fit's weights (whether its held-out check put them in force
  or not) asking on exactly as many held-out steps as the default: the weights' ranking
  alone, on a count no harness knows (the curve's "budget fit @ ..." rows);
- fit @ budget's count: the same on exactly the budget's count of held-out steps;
- fit, t on sample: the fit's weights under the threshold that asks at the budget's rate
  on today's scores of the 2,000 sample steps (no truth read): 2,000 fresh steps of the
  project, more than its whole record; no harness has them;
- fit, t on own past: the threshold that asks at the budget's rate on the arm's own 1,000
  past decisions scored as today's matrix would score them (uncertainty as recorded,
  novelty against every other past situation, today's benefit): what a deployed harness
  can compute from its own state;
- fit, t on newest 300: the threshold the fit puts in force when its held-out check
  passes (as many of the newest 300 outcomes' exact scores as the default asks on): the
  policy a looser check would give;
- best grid w, t on sample: the weights of the curve's 0.1 grid that do best on the held-out
  truth (chosen in hindsight, an upper bound) under the sample's threshold.

After each way's tally: how far its ask rate is from the default's on the same held-out steps
(median and spread over the runs where the default asks), against the row's slack of +0.5
per 100. ``--keep DIR`` keeps each run's records and scores in DIR (``<mix>-<seed>/``) and reuses
the runs it already holds, so a long run can be resumed and judged again.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from artifacts.config import EscalationConfig  # noqa: E402
from bench import escalation_curve as curve  # noqa: E402
from bench import escalation_prior as with_prior  # noqa: E402
from escalation.check import count_asked  # noqa: E402
from escalation.embed import cosine, fingerprint  # noqa: E402
from escalation.fit import at_count  # noqa: E402
from escalation.logistic import rows_of  # noqa: E402
from escalation.matrix import Matrix  # noqa: E402
from escalation.questions import QuestionStore  # noqa: E402
from escalation.record import Record  # noqa: E402

TAGS = ("own", "prior")
WAYS = (
    "in force",
    "fit @ default's count",
    "fit @ budget's count",
    "fit, t on sample",
    "fit, t on own past",
    "fit, t on newest 300",
    "best grid w, t on sample",
)
Seen = list[tuple[float, float, float, bool]]


def run(mix: curve.Mix, seed: int, keep: Path, user: Path) -> Path:
    """Train the fixed and budget arms of one run, own and with the prior; keep their
    records and their scores of the held-out and sample steps in ``keep``."""
    here = keep / f"{mix.name.replace(' ', '_')}-{seed}"
    if (here / "done.json").exists():
        return here
    if here.exists():
        shutil.rmtree(here)
    here.mkdir(parents=True)
    history, held_out, sample = curve.draws(mix, seed)
    default = curve.fixed_config()
    found: dict[str, Any] = {"truth": [s.should_ask for s in held_out]}
    for tag in TAGS:
        folder = here / tag
        folder.mkdir()
        mine = None
        if tag == "prior":
            mine = shutil.copyfile(user, folder / with_prior.USER_FILE)
        fixed = curve.Arm("fixed", default, False, folder / "fixed", user=mine)
        fixed.open()
        trained(fixed, history, seed)
        fixed_seen = curve.scored(fixed, held_out)
        budget = curve.SESSION * sum(a for *_, a in curve.scored(fixed, sample)) / curve.SAMPLE
        fixed.close()
        config = default.model_copy(
            update={"learn": True, "target_questions_per_session": max(budget, 0.05)}
        )
        arm = curve.Arm("budget", config, True, folder / "budget", user=mine)
        arm.open()
        trained(arm, history, seed)
        found[tag] = {
            "fixed_seen": fixed_seen,
            "budget": budget,
            "arm_seen": curve.scored(arm, held_out),
            "arm_sample": curve.scored(arm, sample),
            "kept": curve.kept(arm),
        }
        arm.close()
    (here / "done.json").write_text(json.dumps(found))
    return here


def trained(arm: curve.Arm, history: list[curve.Step], seed: int) -> None:
    """The arm trained on ``history`` by the curve's segments and label seeds."""
    done = 0
    for point in curve.CHECKPOINTS:
        curve.train(arm, history, random.Random(seed + point), done, point)
        done = point


def judge(here: Path, tag: str) -> tuple[curve.Row, list[curve.Row]]:
    """(the default's (recall, asks/100), the budget arm's in ``WAYS`` order) for one run."""
    data = json.loads((here / "done.json").read_text())
    truth, kept = data["truth"], data[tag]
    budget, arm_seen, sample = kept["budget"], kept["arm_seen"], kept["arm_sample"]
    base = measure([a for *_, a in kept["fixed_seen"]], truth)
    state = here / tag / "budget" / ".harness"
    with Record.of_project(state) as record:
        fit = record.current_fit(record.project_id()) or {}
        recent = record.cells(
            up_to=record.last_id(), project=record.project_id(), newest=300, exact=True
        )
    weights = _fitted(fit)
    scores = _scores(arm_seen, weights)
    count = budget / curve.SESSION * len(truth)
    past = rescored(here / tag)
    rows = rows_of(recent, 1.0)
    equal = (1 / 3, 1 / 3, 1 / 3)
    newest = at_count(rows, weights, count_asked(rows, equal, 0.6))
    ways = [
        measure([a for *_, a in arm_seen], truth),
        measure(curve.top(scores, sum(a for *_, a in kept["fixed_seen"])), truth),
        measure(curve.top(scores, round(count)), truth),
        measure(on(sample, arm_seen, weights, count), truth),
        measure(on(past, arm_seen, weights, count * len(past) / len(truth)), truth),
        measure([s > newest for s in scores], truth),
        best_on_sample(sample, arm_seen, truth, count, base[1] + curve.SAME),
    ]
    return base, ways


def measure(asks: list[bool], truth: list[bool]) -> tuple[float, float]:
    """(recall of should-ask, questions per 100 steps), against the truth (``curve.measure``)."""
    caught = sum(a and s for a, s in zip(asks, truth, strict=True))
    return caught / max(1, sum(truth)), 100 * sum(asks) / len(truth)


def _fitted(fit: dict[str, Any]) -> tuple[float, float, float]:
    beta = fit.get("coefficients", (0.0, 0.0, 0.0, 0.0))
    strength = sum(beta[1:])
    if not fit.get("fitted") or strength <= 1e-9:
        return (1 / 3, 1 / 3, 1 / 3)
    return (beta[1] / strength, beta[2] / strength, beta[3] / strength)


def _scores(seen: Seen, w: tuple[float, float, float]) -> list[float]:
    return [w[0] * u + w[1] * n + w[2] * b for u, n, b, _ in seen]


def on(reference: Seen, seen: Seen, w: tuple[float, float, float], count: float) -> list[bool]:
    """Asks on ``seen`` under the threshold that asks on ``count`` of ``reference``."""
    today = sorted(_scores(reference, w), reverse=True)
    wanted = round(count)
    cut = today[wanted - 1] if 0 < wanted <= len(today) else today[0] + 1.0
    return [s >= cut for s in _scores(seen, w)]


def best_on_sample(
    sample: Seen, seen: Seen, truth: list[bool], count: float, limit: float
) -> tuple[float, float]:
    """The best (recall, asks/100) of the grid's weights under the sample's threshold, among
    those asking at most ``limit`` per 100 (else the one asking least)."""
    best: tuple[float, float] | None = None
    fewest: tuple[float, float] | None = None
    for i in range(curve.GRID + 1):
        for j in range(curve.GRID + 1 - i):
            w = (i / curve.GRID, j / curve.GRID, (curve.GRID - i - j) / curve.GRID)
            got = measure(on(sample, seen, w, count), truth)
            if got[1] <= limit + 1e-9:
                best = got if best is None or got[0] > best[0] else best
            elif fewest is None or got[1] < fewest[1]:
                fewest = got
    found = best if best is not None else fewest
    assert found is not None
    return found


def rescored(folder: Path) -> Seen:
    """The budget arm's past decisions as today's matrix would score them: uncertainty as
    recorded, novelty against every other past situation (the index's shortlist, as the
    matrix does), benefit of the topic today."""
    state = folder / "budget" / ".harness"
    prior_path = folder / with_prior.USER_FILE
    store = QuestionStore(state)
    record = Record.of_project(state)
    prior = Record(prior_path) if prior_path.exists() else None
    try:
        config = EscalationConfig(max_questions_per_session=10**6, learn=True)
        matrix = Matrix(config, store, record=record, prior=prior)
        vectors = [v for _, v in store.situations_after(matrix.embedder.name, 0)]
        outcomes = record.outcomes(record.project_id())
        prints = [fingerprint(v) for v in vectors]
        inverse = [1 / math.sqrt(p.bit_count()) if p.bit_count() else 0.0 for p in prints]
        benefit: dict[str, float] = {}
        found: Seen = []
        for i, (vector, outcome) in enumerate(zip(vectors, outcomes, strict=True)):
            overlap = [
                (prints[i] & p).bit_count() * inv if j != i else -1.0
                for j, (p, inv) in enumerate(zip(prints, inverse, strict=True))
            ]
            near = heapq.nlargest(16, range(len(overlap)), key=overlap.__getitem__)
            novelty = max(0.0, 1.0 - max(0.0, *(cosine(vector, vectors[j]) for j in near)))
            if outcome.topic not in benefit:
                benefit[outcome.topic] = matrix.benefit(outcome.topic)
            found.append((outcome.uncertainty, novelty, benefit[outcome.topic], False))
        return found
    finally:
        store.close()
        record.close()
        if prior is not None:
            prior.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", action="append", type=int, help="seeds (default 1, 2, 3)")
    parser.add_argument("--mix", action="append", help="mixes (default: all the curve's)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the runs")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the runs' records here")
    args = parser.parse_args()
    mixes = [m for m in curve.MIXES if not args.mix or m.name in args.mix]
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs) as pool:
        keep = args.keep or Path(tmp)
        user = with_prior.user_record_in(keep, pool)
        jobs = [
            pool.submit(run, mix, seed, keep, user)
            for seed in args.seed or [1, 2, 3]
            for mix in mixes
        ]
        done = [job.result() for job in jobs]
        for tag in TAGS:
            against = "the shipped default" if tag == "own" else "the default with the prior"
            print(f"\n== budget arm ({tag} record) against {against}, after 1,000 outcomes ==")
            tallies = [curve.Tally() for _ in WAYS]
            off: list[list[float]] = [[] for _ in WAYS]
            for here in done:
                base, ways = judge(here, tag)
                if base[1] > 0:  # how far each way asks from the default, where it asks
                    for diffs, cell in zip(off, ways, strict=True):
                        diffs.append(cell[1] - base[1])
                said = [f"{here.name:<18} default {base[0]:4.0%} {base[1]:4.1f}/100"]
                for tally, way, cell in zip(tallies, WAYS, ways, strict=True):
                    said.append(f"{way}: {cell[0]:4.0%} {cell[1]:4.1f} {tally.add(cell, base)}")
                print("  ".join(said), flush=True)
            for tally, way, diffs in zip(tallies, WAYS, off, strict=True):
                print(f"  {tag} {way}: {tally}")
                if diffs:
                    print(
                        f"    asks minus the default's per 100, over the {len(diffs)} runs where "
                        f"it asks: median {statistics.median(diffs):+.2f}, sd "
                        f"{statistics.pstdev(diffs):.2f}, {min(diffs):+.2f} to {max(diffs):+.2f}"
                    )


if __name__ == "__main__":
    main()
