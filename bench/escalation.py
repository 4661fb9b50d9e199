"""The escalation matrix: decision cost per step, and its decisions as weights and threshold vary.

Part 1 times ``Matrix.decide`` against a history of 500 situations in a real
``questions.db`` (median and p99 over 2,000 decisions; 300 with --quick), with its parts:
the hashed embedding, novelty by fingerprint shortlist against brute-force cosine (the
named alternative), and the whole decision with and without recording the situation.

Part 2 replays a seeded synthetic history with ground truth ("should the agent have
asked?"): a recorded prefix (situations and answered escalations with outcomes) and then
the steps to decide. The real ``Matrix`` scores each step once (u, n, b); the table applies
each weight set and threshold to those scores: escalation rate / share of should-have-asked
steps caught. One configuration is re-run end to end through ``Matrix.decide`` as a check.

Part 3 (``bench/escalation_curve.py``, where its module docstring says how the histories
are made) is the learning curve: fixed default vs learned weights and threshold after 50,
200 and 1,000 outcomes, on several seeds and situation mixes. Part 4
(``bench/escalation_fit.py``) times the fit against scikit-learn's on the same data.

    python bench/escalation.py [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

# This script is named like the package it measures: put the repository first on the path.
sys.path[0] = str(Path(__file__).resolve().parents[1])
sys.path.insert(1, str(Path(__file__).resolve().parent))  # its parts 3 and 4, beside it

from escalation_curve import HEDGE_BITS, TOPICS, WORDS  # noqa: E402  (one vocabulary)

from artifacts.config import EscalationConfig  # noqa: E402
from escalation.embed import HashedEmbedder, VectorIndex  # noqa: E402
from escalation.matrix import Decision, Matrix, Situation  # noqa: E402
from escalation.outcomes import Outcome  # noqa: E402
from escalation.questions import QuestionStore  # noqa: E402

WEIGHTS = {
    "default: equal 1/3": (1 / 3, 1 / 3, 1 / 3),
    "old default .4/.3/.3": (0.4, 0.3, 0.3),
    "u-heavy 0.6/0.2/0.2": (0.6, 0.2, 0.2),
    "u+n 0.5/0.5/0": (0.5, 0.5, 0.0),
    "u only 1/0/0": (1.0, 0.0, 0.0),
    "n only 0/1/0": (0.0, 1.0, 0.0),
    "b only 0/0/1": (0.0, 0.0, 1.0),
}
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SESSION_STEPS = 25
T = TypeVar("T")


@dataclass
class Step:
    situation: Situation
    should_ask: bool


def make_text(rng: random.Random, topic: str, novel: bool, hedges: int) -> str:
    base = " ".join(rng.sample(WORDS, 8)) if novel else rng.choice(TOPICS[topic][1])
    text = f"{base} in src/{rng.choice(['app', 'core', 'api'])}.py"
    if hedges:
        text += ". " + ", ".join(rng.sample(HEDGE_BITS, hedges)) + "."
    return text


def synthetic(rng: random.Random, count: int) -> list[Step]:
    """Steps with ground truth: need = ambiguity, novelty and the topic's answer value."""
    steps = []
    for index in range(count):
        topic = rng.choice(list(TOPICS))
        ambiguity = rng.random()
        novel = rng.random() < 0.3
        need = 0.45 * ambiguity + 0.25 * novel + 0.3 * TOPICS[topic][0] + rng.gauss(0, 0.08)
        hedges = sum(rng.random() < ambiguity * 0.6 for _ in range(3))
        confidence = None
        if rng.random() < 0.7:
            confidence = min(1.0, max(0.0, 1.0 - ambiguity + rng.gauss(0, 0.15)))
        situation = Situation(
            topic=topic, text=make_text(rng, topic, novel, hedges), confidence=confidence,
            session=index // SESSION_STEPS,
        )  # fmt: skip
        steps.append(Step(situation, need > 0.55))
    return steps


def seed_history(store: QuestionStore, rng: random.Random, situations: int, answers: int) -> None:
    """The recorded prefix: past situations, and answered escalations with outcomes."""
    matrix = Matrix(EscalationConfig(), store)
    for _ in range(situations):
        topic = rng.choice(list(TOPICS))
        matrix.decide(Situation(topic=topic, text=make_text(rng, topic, False, 0)))
    past = []
    for index in range(answers):
        topic = rng.choice(list(TOPICS))
        mattered = rng.random() < TOPICS[topic][0]
        outcome = Outcome(
            key=f"past{index}", source="ask_human", topic=topic, situation="-", asked=True,
            human_agreed=not mattered, should_ask=mattered,
        )  # fmt: skip
        past.append(outcome)
    matrix.record.add(matrix.project, past)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[T], object], args: Sequence[T]) -> list[float]:
    out = []
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        out.append(time.perf_counter() - start)
    return out


def part1(folder: Path, rng: random.Random, decisions: int) -> None:
    print(f"== Part 1: cost per decision (history 500 situations, {decisions} decisions) ==")
    with QuestionStore(folder / "p1" / ".harness") as store:
        seed_history(store, rng, 500, 100)
        steps = synthetic(rng, decisions)
        matrix = Matrix(EscalationConfig(), store)
        matrix.decide(steps[0].situation, record=False)  # loads the history
        embedder = HashedEmbedder()
        texts = [s.situation.text for s in steps]
        vectors = [embedder.embed(t) for t in texts]
        index: VectorIndex = matrix._index
        rows = {
            "embed (hashed, 512 dims)": timed(embedder.embed, texts),
            "novelty: shortlist+rerank": timed(index.nearest, vectors),
            "novelty: brute-force cosine": timed(
                lambda v: index.nearest(v, exact=True), vectors[: max(50, decisions // 10)]
            ),
            "decide, no record": timed(
                lambda s: matrix.decide(s, record=False), [s.situation for s in steps]
            ),
            "decide + record (to 2,500)": timed(matrix.decide, [s.situation for s in steps]),
        }
        mismatches = sum(
            abs(index.nearest(v) - index.nearest(v, exact=True)) > 1e-9 for v in vectors[:200]
        )
    print(f"{'what':<30} {'median':>10} {'p99':>10}   (history at end: {len(index)})")
    for name, values in rows.items():
        median, p99 = statistics.median(values) * 1e6, pct(values, 0.99) * 1e6
        print(f"{name:<30} {median:>8.0f}µs {p99:>8.0f}µs")
    short, brute = rows["novelty: shortlist+rerank"], rows["novelty: brute-force cosine"]
    print(f"shortlist vs brute force: {statistics.median(brute) / statistics.median(short):.1f}x "
          f"faster; max-similarity differs on {mismatches}/200 queries")  # fmt: skip


def part2(folder: Path, seed: int, count: int) -> None:
    print(f"\n== Part 2: decisions on a synthetic history (seed {seed}, {count} steps) ==")
    rng = random.Random(seed)
    with QuestionStore(folder / "p2" / ".harness") as store:
        seed_history(store, rng, 300, 150)
        steps = synthetic(rng, count)
        matrix = Matrix(EscalationConfig(), store)
        scored = [matrix.decide(s.situation, questions_asked=0) for s in steps]
    truth = [s.should_ask for s in steps]
    positives = sum(truth)
    print(
        f"should-have-asked steps: {positives}/{count} ({positives / count:.0%}); "
        "cells: escalation rate / share of should-have-asked caught (no cap)"
    )
    print(f"{'weights (u/n/b)':<22}" + "".join(f"{'t=' + str(t):>13}" for t in THRESHOLDS))
    for name, (wu, wn, wb) in WEIGHTS.items():
        cells = []
        for threshold in THRESHOLDS:
            asked = [wu * d.uncertainty + wn * d.novelty + wb * d.benefit > threshold
                     for d in scored]  # fmt: skip
            rate = sum(asked) / count
            caught = sum(a and t for a, t in zip(asked, truth, strict=True)) / max(1, positives)
            cells.append(f"{rate:>6.0%} /{caught:>4.0%}")
        print(f"{name:<22}" + "".join(f"{c:>13}" for c in cells))
    check_default(folder, seed, count, scored)


def check_default(folder: Path, seed: int, count: int, scored: list[Decision]) -> None:
    """Re-run the default config end to end, with its cap, through Matrix.decide."""
    rng = random.Random(seed)
    config = EscalationConfig()
    with QuestionStore(folder / "p2-check" / ".harness") as store:
        seed_history(store, rng, 300, 150)
        steps = synthetic(rng, count)
        matrix = Matrix(config, store)
        live = []
        for step in steps:
            decision = matrix.decide(step.situation)
            if decision.escalate:
                store.ask("question", step.situation.text, session=step.situation.session)
            live.append(decision)
    same = all(abs(a.total - b.total) < 1e-9 for a, b in zip(live, scored, strict=True))
    asked = sum(d.escalate for d in live)
    capped = sum(d.capped for d in live)
    caught = sum(d.escalate and s.should_ask for d, s in zip(live, steps, strict=True))
    print(
        f"\ncheck, default config end to end (threshold {config.threshold}, cap "
        f"{config.max_questions_per_session}/session of {SESSION_STEPS} steps): asked {asked} "
        f"({asked / count:.0%}), capped {capped}, caught {caught}/"
        f"{sum(s.should_ask for s in steps)}; scores identical to the table's: {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="300 decisions, 300 steps")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        part1(Path(folder), random.Random(args.seed), 300 if args.quick else 2000)
        part2(Path(folder), args.seed, 300 if args.quick else 1000)
    import escalation_curve
    import escalation_fit

    if args.quick:
        escalation_curve.curve([1], escalation_curve.MIXES[:2])
    else:
        escalation_curve.curve([1, 2, 3], escalation_curve.MIXES)
    escalation_fit.main(quick=args.quick)


if __name__ == "__main__":
    main()
