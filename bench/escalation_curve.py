"""The escalation matrix's learning curve on seeded synthetic histories (part 3 of
``bench/escalation.py``; runs alone too: ``python bench/escalation_curve.py [--quick]
[--mix NAME ...]``).

How a history is made (read this before trusting the numbers):

- Each step has hidden causes: a topic (five, each with a true rate at which a human's
  answer matters), an ambiguity a ~ U(0, 1), and whether it is novel (30%). Its ground
  truth "should the agent ask?" is ``need > cut`` with need = ca·a + cn·novel + cv·rate(topic)
  + N(0, 0.08), and ``cut`` set so that about 20% of steps should ask. The weights (ca, cn,
  cv) differ per **mix**, and the matrix never sees them.
- The matrix sees only proxies: hedges (each of 3 phrases appears with probability 0.6·a;
  in the "hedgy model" mix with probability 0.5 whatever a is, so they carry nothing),
  a stated confidence (70% of steps, 1 - a + N(0, 0.15); none in the hedgy mix), the text
  (a novel step's words are random, a familiar one's is its topic's phrase; novelty comes
  from the real hashed embedder against the real history), and benefit from its own record.
- What the learner is told is what the harness can observe, not the truth: an asked step
  is labelled by the human's answer (mattered iff it should have asked, 5% of answers
  flipped); a step not asked is labelled "should have asked" only when that shows later
  (undone, a failed check, a later answer), which happens for 60% of those that should
  have, plus 3% false alarms among the rest. So the learner fits on censored, noisy labels
  that it partly chooses itself (what it asks is what gets a clean label).
- Both arms run the same steps through the real ``Matrix``, ``Record`` and refit, one
  session (10 decisions) at a time, no per-session cap. The fixed arm keeps the shipped
  default (equal weights, threshold 0.6); its record still feeds its benefit score. The
  learned arms refit after every session, with the shipped target (catch 80% of the
  should-ask cases), one of them also with a question budget per session equal to what the
  fixed arm asks per session at the end ("ask no more than the default does"), counted on
  2,000 steps of their own (no truth read). Until 2026-12-06 evening it was counted on the
  held-out steps themselves: their chance make-up (a few novel steps more or less) then
  set the budget and judged the policy too, and a threshold that asked at exactly the
  default's rate on today's steps lost 5 of 9 runs that way. A last row
  takes the learned weights and asks on exactly as many held-out steps as the fixed arm
  does, and the equal weights ask on exactly as many as the learned policy does: the
  weights compared at the same ask rate, the threshold set aside. The same for the policy
  on the default's budget ("fixed w @ budget rate": equal weights asking as often as it
  does): its losses against the default are then read apart, missing the budget's rate
  (asking less, or more) against ranking worse at the rate it did ask. And "budget w, t on
  sample": the budget arm's weights with the threshold that asks at the budget's rate on
  today's scores of the budget's 2,000 steps (no truth read), after 1,000 outcomes: what
  those weights do under a threshold that hits the rate, which the fitted threshold (chosen
  on the record's newest 300 outcomes, 5-25 of them asked at these rates) only estimates.
  And "budget fit @ fixed rate" (since 2026-12-07): the budget arm's newest fitted weights,
  whether the held-out check put them in force or not, asking on exactly as many held-out
  steps as the fixed arm: what the weights learned under the budget are worth with the
  check set aside, so the most any other check could get from them. Where it loses too,
  the record a low budget leaves (a few answered questions per 100 steps) is what falls
  short, not the check.
- Measured on 2,000 held-out steps of the same mix after 50, 200 and 1,000 outcomes:
  recall of should-ask (share caught) and questions per 100 steps, against the truth.
  (500 until 2026-12-06 evening: at 3-7 questions per 100 steps two policies with the
  same true ask rate then differed by +-1 per 100 on them by chance, twice the tolerance.)
- After 1,000 outcomes every seed x mix run is listed with a verdict per comparison (the
  learned side against the fixed side, at the same ask rate, +0.5 per 100, or lower): win
  (more should-ask steps caught), tie (as many), 0=0 (neither asks on any held-out step:
  at the default's rate of zero there is nothing to catch, so no learner can win), loss
  (fewer, or more questions). Until 2026-12-06 only wins were counted and every tie and
  0=0 run read as a failure; the figures are the same, the count is fairer. At the
  default's low rate (3-7 questions per 100 steps, about 20 of 100 should ask) the best
  possible recall is the rate over 20%: the default is often within a step or two of it,
  where a tie is all any weights can do. Two columns say how much room there was: "max"
  (every question a should-ask step) and "best" (the best weights of a 0.1 grid, picked in
  hindsight on the held-out truth: an upper bound no learner reaches by right).

The "noise" mix (need is random: no proxy predicts it) is there to show what learning
cannot do; there the learner should neither gain nor lose much.

Every arm above learns from its own record alone. Since 2026-12-07 the rows "fixed + user
prior", "budget + user prior" and two more (``bench/escalation_prior.py`` says how they are
made) give the same runs the record of the user's other projects (5 of them, one per mix,
seeds 701-705), as the harness reads it: the default's and the learner's benefit lean on
it, and the fit counts it as a prior. Their verdicts are counted apart; the rows above are
unchanged by them. ``--no-prior`` leaves them out; ``--budget-only`` leaves out the
recall-target arm (its rows and verdicts), about a third of the run, to study the budget rows.

Since 2026-12-06 night the fit makes a held-out check on the arm's own record (fitted weights
against the default's, at the same ask count). Since 2026-12-06 late night, a default that
meets the target within two standard deviations (of the budget's count of questions, or of
the share of should-ask outcomes a recall target asks for) stays (weights and threshold)
unless the check shows fitted weights better by 1.645 standard deviations, and
one that misses it moves with the fitted weights unless they caught fewer held-out
should-ask outcomes (escalation/fit.py, escalation/check.py). A verdict marked "(default
kept)" is a run whose arm ended with the default policy in force; "(w kept)" one with the
default weights and a threshold toward the target. ``--seed`` runs other
seeds than the table's 1-3 (to see that nothing is tuned to those); ``--jobs N`` runs the
seed x mix runs in N processes (each run is the same seeded computation in any order).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

sys.path[0] = str(Path(__file__).resolve().parents[1])

from artifacts.config import EscalationConfig  # noqa: E402
from escalation.learn import refit  # noqa: E402
from escalation.matrix import Matrix, Situation  # noqa: E402
from escalation.outcomes import Outcome  # noqa: E402
from escalation.questions import QuestionStore  # noqa: E402
from escalation.record import Record  # noqa: E402

TOPICS = {  # topic: (true rate at which a human's answer matters, familiar phrases)
    "api_ambiguity": (0.85, ["the spec does not say which status code the endpoint returns",
                             "two endpoints in the spec disagree on the field name"]),
    "schema_change": (0.65, ["the migration drops a column that old rows still use",
                             "renaming the users table breaks the report query"]),
    "dependency_choice": (0.5, ["pick a library for parsing dates in the importer",
                                "choose between requests and httpx for the client"]),
    "test_flake": (0.1, ["test_login fails once in five runs with a timeout",
                         "the websocket test is flaky under load"]),
    "refactor": (0.15, ["split the 600 line views module into smaller files",
                        "rename helper functions in utils to say their role"]),
}  # fmt: skip
_VOCABULARY = (
    "kafka ledger invoice gpu tenant oauth webhook cron shard quota billing cache locale pdf "
    "export sso audit queue retry backoff tls cert dns region vault secret rotation bucket "
    "upload thumbnail video codec stream latency histogram grafana alert pager oncall sla "
    "contract license gdpr consent cookie banner captcha fraud refund chargeback currency "
    "timezone calendar recurrence reminder push notification ios android offline sync"
)
WORDS = _VOCABULARY.split()
HEDGE_BITS = ["I think", "maybe", "not sure", "it might be", "I assume", "unclear"]
SESSION = 10
CHECKPOINTS = (50, 200, 1000)
HELD_OUT = 2000
SAMPLE = 2000
"""Steps the budget is counted on (the fixed arm's questions, no truth read)."""
SHOULD_SHARE = 0.2
FLIP = 0.05
REVEAL = 0.6
FALSE_ALARM = 0.03
SAME = 0.5
"""Ask rates within this many questions per 100 steps count as the same (the held-out
set's resolution is 0.05)."""


@dataclass(frozen=True)
class Mix:
    name: str
    weights: tuple[float, float, float]  # (ambiguity, novel, topic rate) in the true need
    hedges_informative: bool = True
    confidence: bool = True
    noise: bool = False


MIXES = (
    Mix("balanced", (0.45, 0.25, 0.30)),
    Mix("novelty-driven", (0.15, 0.60, 0.25)),
    Mix("topic-driven", (0.15, 0.15, 0.70)),
    Mix("hedgy model", (0.45, 0.25, 0.30), hedges_informative=False, confidence=False),
    Mix("noise", (0.0, 0.0, 0.0), noise=True),
)


@dataclass(frozen=True)
class Step:
    situation: Situation
    should_ask: bool


def need_of(rng: random.Random, mix: Mix, a: float, novel: bool, topic: str) -> float:
    if mix.noise:
        return rng.random()
    ca, cn, cv = mix.weights
    return ca * a + cn * novel + cv * TOPICS[topic][0] + rng.gauss(0, 0.08)


def steps(rng: random.Random, mix: Mix, count: int, cut: float) -> list[Step]:
    out = []
    for _ in range(count):
        topic = rng.choice(list(TOPICS))
        a = rng.random()
        novel = rng.random() < 0.3
        need = need_of(rng, mix, a, novel, topic)
        p_hedge = 0.6 * a if mix.hedges_informative else 0.5
        count_hedges = sum(rng.random() < p_hedge for _ in range(3))
        confidence = None
        if mix.confidence and rng.random() < 0.7:
            confidence = min(1.0, max(0.0, 1.0 - a + rng.gauss(0, 0.15)))
        base = " ".join(rng.sample(WORDS, 8)) if novel else rng.choice(TOPICS[topic][1])
        text = f"{base} in src/{rng.choice(['app', 'core', 'api'])}.py"
        if count_hedges:
            text += ". " + ", ".join(rng.sample(HEDGE_BITS, count_hedges)) + "."
        situation = Situation(topic=topic, text=text, confidence=confidence)
        out.append(Step(situation, need > cut))
    return out


def cut_for(mix: Mix, seed: int) -> float:
    """The need above which the share SHOULD_SHARE of steps should ask (on a large sample)."""
    rng = random.Random(seed * 7919 + 1)
    needs = sorted(
        need_of(rng, mix, rng.random(), rng.random() < 0.3, rng.choice(list(TOPICS)))
        for _ in range(20000)
    )
    return needs[int((1 - SHOULD_SHARE) * len(needs))]


class Draws(NamedTuple):
    """A run's steps, the same for the same mix and seed in every escalation bench (one
    bench's kept rows are another's reference): the history the arms learn from, the
    held-out steps they are judged on, and a sample of other steps (a budget is counted on
    it; its truth is never read)."""

    history: list[Step]
    held_out: list[Step]
    sample: list[Step]


def draws(mix: Mix, seed: int) -> Draws:
    cut = cut_for(mix, seed)
    return Draws(
        steps(random.Random(seed), mix, CHECKPOINTS[-1], cut),
        steps(random.Random(seed + 10_000), mix, HELD_OUT, cut),
        steps(random.Random(seed + 20_000), mix, SAMPLE, cut),
    )


def fixed_config() -> EscalationConfig:
    """The default every arm is judged against: the shipped weights and threshold,
    learning off, no cap on questions per session."""
    return EscalationConfig(max_questions_per_session=10**6, learn=False)


def observed_label(rng: random.Random, asked: bool, should: bool) -> bool:
    """What the harness would record (see the module docstring)."""
    if asked:
        return should != (rng.random() < FLIP)
    return rng.random() < REVEAL if should else rng.random() < FALSE_ALARM


@dataclass
class Arm:
    name: str
    config: EscalationConfig
    learns: bool
    folder: Path
    user: Path | None = None
    """The user's record of their other projects (``bench/escalation_prior.py``): the
    matrix's benefit and the fit lean on it as the harness does (None: no other project)."""

    def open(self) -> None:
        self.store = QuestionStore(self.folder / ".harness")
        self.record = Record.of_project(self.folder / ".harness")
        self.prior = Record(self.user) if self.user is not None else None
        self.matrix = Matrix(self.config, self.store, record=self.record, prior=self.prior)
        self.project = self.record.project_id()
        self.asks: list[bool] = []

    def close(self) -> None:
        self.store.close()
        self.record.close()
        if self.prior is not None:
            self.prior.close()


def train(arm: Arm, history: list[Step], rng: random.Random, start: int, stop: int) -> None:
    """Decide steps [start, stop) session by session, record outcomes, refit if learning."""
    for first in range(start, stop, SESSION):
        outcomes = []
        for index in range(first, min(stop, first + SESSION)):
            step = history[index]
            situation = step.situation.model_copy(update={"session": index // SESSION})
            d = arm.matrix.decide(situation, questions_asked=0)
            arm.asks.append(d.escalate)
            label = observed_label(rng, d.escalate, step.should_ask)
            outcome = Outcome(
                key=f"s{index}", source="turn", topic=d.topic, situation=f"s{index}",
                run="bench", session=index // SESSION, uncertainty=d.uncertainty,
                structured=d.structured, novelty=d.novelty, benefit=d.benefit, score=d.total,
                threshold=d.threshold, weights=d.weights, asked=d.escalate, should_ask=label,
            )  # fmt: skip
            outcomes.append(outcome)
        arm.record.add(arm.project, outcomes)
        if arm.learns:
            refit(arm.record, arm.prior, arm.config, key=f"fit{first}")


def scored(arm: Arm, held_out: list[Step]) -> list[tuple[float, float, float, bool]]:
    """(u, n, b, asks) of each held-out step as the arm's matrix sees it now."""
    found = []
    for step in held_out:
        d = arm.matrix.decide(step.situation, questions_asked=0, record=False)
        found.append((d.uncertainty, d.novelty, d.benefit, d.escalate))
    return found


def measure(asks: list[bool], held_out: list[Step]) -> tuple[float, float]:
    """(recall of should-ask, questions per 100 steps), against the truth."""
    should = sum(s.should_ask for s in held_out)
    caught = sum(a and s.should_ask for a, s in zip(asks, held_out, strict=True))
    return caught / max(1, should), 100 * sum(asks) / len(held_out)


def top(scores: list[float], count: int) -> list[bool]:
    """Ask on the ``count`` highest scores (ties broken by position): a threshold set to ask
    exactly as often as another policy does."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    chosen = set(order[:count])
    return [i in chosen for i in range(len(scores))]


Row = list[tuple[float, float] | None]
GRID = 10
"""The weights tried in hindsight: every (i, j, k) / GRID with i + j + k = GRID (66)."""


def hindsight(
    seen: list[tuple[float, float, float, bool]], held_out: list[Step], count: int
) -> tuple[float, float]:
    """The best (recall, asks/100) any weights of the grid reach asking on ``count`` of the
    held-out steps, chosen knowing their truth: an upper bound for a learner of weights."""
    best = measure([False] * len(held_out), held_out)
    for i in range(GRID + 1):
        for j in range(GRID + 1 - i):
            w = (i / GRID, j / GRID, (GRID - i - j) / GRID)
            scores = [w[0] * u + w[1] * n + w[2] * b for u, n, b, _ in seen]
            best = max(best, measure(top(scores, count), held_out))
    return best


def run_mix(
    mix: Mix, seed: int, folder: Path, budget_only: bool = False
) -> tuple[dict[str, Row], dict[str, str]]:
    """{row: [(recall, asks/100) at each checkpoint]} for one mix and seed, and what of the
    default each learned arm still has in force at the end (``kept``); with
    ``budget_only``, the recall-target arm is left out (its rows: None)."""
    history, held_out, sample = draws(mix, seed)
    default = fixed_config()
    fixed = Arm("fixed", default, False, folder / f"{mix.name}-{seed}-fixed")
    fixed.open()
    rows: dict[str, Row] = {name: [] for name in (*NAMES, HINDSIGHT)}
    held: dict[str, str] = {}
    fixed_asks, fixed_seen = [], []
    done = 0
    for point in CHECKPOINTS:
        train(fixed, history, random.Random(seed + point), done, point)
        done = point
        seen = scored(fixed, held_out)
        asks = [a for *_, a in seen]
        fixed_asks.append(sum(asks))
        fixed_seen.append(seen)
        rows[NAMES[0]].append(measure(asks, held_out))
    # the budget: what the fixed default asks per session now, after all its training, on
    # steps of its own (a count of its questions, no truth; not the held-out steps, whose
    # chance make-up would then set the learner's budget and judge it too)
    budget = SESSION * sum(a for *_, a in scored(fixed, sample)) / SAMPLE
    fixed.close()
    learners = {
        NAMES[1]: default.model_copy(update={"learn": True}),
        NAMES[2]: default.model_copy(
            update={"learn": True, "target_questions_per_session": max(budget, 0.05)}
        ),
    }
    if budget_only:
        del learners[NAMES[1]]
        for name in RECALL_ROWS:
            rows[name] = [None] * len(CHECKPOINTS)
    for name, config in learners.items():
        number = list(NAMES).index(name) - 1
        arm = Arm(name, config, True, folder / f"{mix.name}-{seed}-learned{number}")
        arm.open()
        done = 0
        for index, point in enumerate(CHECKPOINTS):
            train(arm, history, random.Random(seed + point), done, point)
            done = point
            seen = scored(arm, held_out)
            asks = [a for *_, a in seen]
            rows[name].append(measure(asks, held_out))
            if number == 1:  # equal weights asking as often as the policy on the budget
                equal = [(u + n + b) / 3 for u, n, b, _ in fixed_seen[index]]
                rows[NAMES[5]].append(measure(top(equal, sum(asks)), held_out))
                rows[NAMES[6]].append(on_sample(arm, seen, held_out, sample, budget, index))
                w = fitted_weights(arm)
                scores = [w[0] * u + w[1] * n + w[2] * b for u, n, b, _ in seen]
                rows[NAMES[7]].append(measure(top(scores, fixed_asks[index]), held_out))
            if number == 0:  # the two weightings, each asking as often as the other arm
                w = arm.matrix.policy().weights
                scores = [w[0] * u + w[1] * n + w[2] * b for u, n, b, _ in seen]
                rows[NAMES[3]].append(measure(top(scores, fixed_asks[index]), held_out))
                rows[HINDSIGHT].append(hindsight(seen, held_out, fixed_asks[index]))
                equal = [(u + n + b) / 3 for u, n, b, _ in fixed_seen[index]]
                rows[NAMES[4]].append(measure(top(equal, sum(asks)), held_out))
        held[name] = kept(arm)
        arm.close()
    return rows, held


def kept(arm: Arm) -> str:
    """What of the default the arm's newest fit kept in force: "default" (weights and
    threshold: the held-out check did not show the fitted weights better and the default
    meets the target within the record's sampling error), "w" (the weights only), "" (none)."""
    found = arm.record.current_fit(arm.project)
    if found is None or found.get("validated") is not False:
        return ""
    return "default" if found["threshold"] == arm.config.threshold else "w"


def fitted_weights(arm: Arm) -> tuple[float, float, float]:
    """The weights of the arm's newest fit, whether the held-out check put them in force or
    not (the configured ones while nothing is fitted or no signal predicts the label)."""
    found = arm.record.current_fit(arm.project)
    beta = found.get("coefficients", (0.0, 0.0, 0.0, 0.0)) if found else (0.0, 0.0, 0.0, 0.0)
    strength = sum(beta[1:])
    if not found or not found.get("fitted") or strength <= 1e-9:
        c = arm.config
        return (c.w_uncertainty, c.w_novelty, c.w_benefit)
    return (beta[1] / strength, beta[2] / strength, beta[3] / strength)


def on_sample(
    arm: Arm,
    seen: list[tuple[float, float, float, bool]],
    held_out: list[Step],
    sample: list[Step],
    budget: float,
    index: int,
) -> tuple[float, float] | None:
    """After the last checkpoint: the budget arm's weights with the threshold that asks at
    the budget's rate on today's scores of the steps the budget was counted on (no truth
    read), judged on the held-out steps: its weights under a threshold that hits its rate,
    which a threshold fitted on the record can only estimate."""
    if index + 1 < len(CHECKPOINTS):
        return None
    w = arm.matrix.policy().weights
    today = sorted(
        (w[0] * u + w[1] * n + w[2] * b for u, n, b, _ in scored(arm, sample)), reverse=True
    )
    count = round(budget / SESSION * len(today))
    cut = today[count - 1] if 0 < count <= len(today) else today[0] + 1.0
    held = [w[0] * u + w[1] * n + w[2] * b for u, n, b, _ in seen]
    return measure([score >= cut for score in held], held_out)


NAMES = (
    "fixed (shipped)",
    "learned, recall 0.8",
    "learned, budget=fixed",
    "learned w @ fixed rate",
    "fixed w @ learned rate",
    "fixed w @ budget rate",
    "budget w, t on sample",
    "budget fit @ fixed rate",
)
HINDSIGHT = "best w in hindsight @ fixed rate"
RECALL_ROWS = (NAMES[1], NAMES[3], NAMES[4], HINDSIGHT)
"""The rows of the recall-target arm (``--budget-only`` leaves them out)."""
ARM_OF = {NAMES[3]: NAMES[1], NAMES[6]: NAMES[2], NAMES[7]: NAMES[2]}
"""The learned arm whose fit a row's weights come from."""
COMPARED = {  # the learned side against the fixed side it must beat
    "weights @ default's rate": (NAMES[3], NAMES[0]),
    "budget = default's rate": (NAMES[2], NAMES[0]),
    "recall 0.8 vs equal w": (NAMES[1], NAMES[4]),
    "budget vs equal w": (NAMES[2], NAMES[5]),
    "t on sample vs default": (NAMES[6], NAMES[0]),
    "budget fit @ default's rate": (NAMES[7], NAMES[0]),
}


@dataclass
class Tally:
    """Wins, ties and losses of one comparison over the seed x mix runs."""

    win: int = 0
    tie: int = 0
    zero: int = 0
    """Ties where neither side asks on any held-out step."""
    loss: int = 0

    def add(self, ours: tuple[float, float], theirs: tuple[float, float]) -> str:
        (recall, asks), (base_recall, base_asks) = ours, theirs
        if asks > base_asks + SAME:
            self.loss += 1
            return "loss"
        if abs(recall - base_recall) < 1e-9:
            if asks == 0 and base_asks == 0:
                self.zero += 1
                return "0=0"
            self.tie += 1
            return "tie"
        if recall > base_recall:
            self.win += 1
            return "win"
        self.loss += 1
        return "loss"

    def __str__(self) -> str:
        runs = self.win + self.tie + self.zero + self.loss
        return (
            f"{self.win} won, {self.tie} tied, {self.zero} tied at 0 vs 0 questions, "
            f"{self.loss} lost of {runs} runs"
        )


def curve(
    seeds: list[int],
    mixes: tuple[Mix, ...],
    jobs: int = 1,
    prior: bool = True,
    budget_only: bool = False,
) -> None:
    """The table, the per-run verdicts and their counts; the seed x mix runs in ``jobs``
    processes (each run alone is the same computation, seeded, whatever the order); with
    ``prior``, also the arms with a user-level prior (``bench/escalation_prior.py``); with
    ``budget_only``, without the recall-target arm (its rows and verdicts)."""
    from bench import escalation_prior as with_prior

    print(
        f"\n== Part 3: learning curve ({len(seeds)} seeds x {len(mixes)} mixes; {SESSION} "
        f"decisions a session; {HELD_OUT} held-out steps; medians over seeds; see "
        "bench/escalation_curve.py for how the histories are made) =="
    )
    names: tuple[str, ...] = NAMES
    compared = dict(COMPARED)
    arm_of = dict(ARM_OF)
    if prior:
        print(with_prior.describe() + " (bench/escalation_prior.py)")
        names = (*NAMES, *with_prior.NAMES)
        compared |= with_prior.COMPARED
        arm_of |= with_prior.ARM_OF
    if budget_only:
        names = tuple(n for n in names if n not in RECALL_ROWS)
        compared = {k: v for k, v in compared.items() if not set(v) & set(RECALL_ROWS)}
    header = f"{'mix':<15} {'policy':<23}" + "".join(
        f"{'after ' + str(p):>19}" for p in CHECKPOINTS
    )
    print(header)
    print(f"{'':<15} {'':<23}" + "".join(f"{'recall asks/100':>19}" for _ in CHECKPOINTS))
    tally = {name: Tally() for name in compared}
    lines = []
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(jobs) as pool:
        others = [
            pool.submit(with_prior.other_project, other, seed, Path(tmp))
            for other, seed in (with_prior.OTHERS if prior else ())
        ]
        runs = {
            (mix.name, seed): pool.submit(run_mix, mix, seed, Path(tmp), budget_only)
            for mix in mixes
            for seed in seeds
        }
        priors = {}
        if prior:
            made = [job.result() for job in others]
            user = with_prior.user_record(made, Path(tmp) / with_prior.USER_FILE)
            priors = {
                (mix.name, seed): pool.submit(with_prior.run_prior, mix, seed, Path(tmp), user)
                for mix in mixes
                for seed in seeds
            }

        def result(mix: Mix, seed: int) -> tuple[dict[str, Row], dict[str, str]]:
            rows, held = runs[(mix.name, seed)].result()
            if (mix.name, seed) in priors:
                more, also = priors[(mix.name, seed)].result()
                rows, held = rows | more, held | also
            return rows, held

        for mix in mixes:
            per_seed = [result(mix, seed)[0] for seed in seeds]
            for name in names:
                cells = []
                for i in range(len(CHECKPOINTS)):
                    found = [cell for r in per_seed if (cell := r[name][i]) is not None]
                    if not found:
                        cells.append(f"{'-':>8} {'-':>8}")
                        continue
                    recall = statistics.median(cell[0] for cell in found)
                    asks = statistics.median(cell[1] for cell in found)
                    cells.append(f"{recall:>8.0%} {asks:>8.1f}")
                label = mix.name if name == NAMES[0] else ""
                print(f"{label:<15} {name:<23}" + "".join(f"{c:>19}" for c in cells))
            for seed, got in zip(seeds, per_seed, strict=True):
                said = []
                for name, (ours, theirs) in compared.items():
                    verdict = tally[name].add(got[ours][-1], got[theirs][-1])
                    recall, asks = got[ours][-1]
                    held = result(mix, seed)[1].get(arm_of.get(ours, ours), "")
                    if held:
                        verdict += f" ({held} kept)"
                    said.append(f"{recall:4.0%} {asks:4.1f}/100 {verdict:<19}")
                base_recall, base_asks = got[NAMES[0]][-1]
                head = f"{mix.name} {seed}"
                truth = draws(mix, seed).held_out
                should = sum(s.should_ask for s in truth)
                ceiling = min(1.0, base_asks * HELD_OUT / 100 / max(1, should))
                hindsight_row = got[HINDSIGHT][-1]
                best = f"{hindsight_row[0]:4.0%}" if hindsight_row is not None else f"{'-':>4}"
                room = f"{ceiling:4.0%} {best}"
                lines.append(
                    f"  {head:<17} {base_recall:4.0%} {base_asks:4.1f}/100 {room}  "
                    + "  ".join(said)
                )
    last = CHECKPOINTS[-1]
    print(
        f"\nafter {last} outcomes, each seed x mix run: the learned side against the equal-weights"
        f" side at the same (+{SAME:g} per 100) or a lower ask rate; win: more should-ask steps"
        " caught, tie: as many (0 vs 0 counted apart: the default asks on no held-out step, so"
        " there is nothing to catch at its rate), loss: fewer, or more questions; max: the"
        " most any policy could catch asking as often as the default (every question a"
        " should-ask step); best: the most any weights of a 0.1 grid catch at that rate,"
        " chosen in hindsight knowing the held-out truth; (default kept): the arm's held-out"
        " check on its own record did not show its fitted weights better, and the default"
        " meets the target within the record's sampling error, so the default policy is in"
        " force (a tie by construction where the arm's record is the default's); (w kept):"
        " the default weights with a threshold toward the target"
    )
    print(
        f"  {'run':<17} {'default':<14} {'max':>4} {'best':>4}  "
        + "  ".join(f"{n:<33}" for n in compared)
    )
    print("\n".join(lines))
    for name, counted in tally.items():
        print(f"  {name}: {counted}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 mixes")
    names = ", ".join(m.name for m in MIXES)
    parser.add_argument("--mix", action="append", help=f"only these mixes (of {names})")
    parser.add_argument(
        "--seed",
        action="append",
        type=int,
        help="seeds to run (default 1, 2, 3; others check that the mechanism is not tuned "
        "to those)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="run the seed x mix runs in this many processes"
    )
    parser.add_argument(
        "--budget-only",
        action="store_true",
        help="leave out the recall-target arm (its rows and verdicts): the budget arms alone",
    )
    parser.add_argument(
        "--no-prior",
        action="store_true",
        help="leave out the arms with a user-level prior (bench/escalation_prior.py)",
    )
    args = parser.parse_args()
    mixes = tuple(m for m in MIXES if not args.mix or m.name in args.mix)
    if args.mix and len(mixes) != len(set(args.mix)):
        parser.error(f"--mix: unknown mix in {args.mix}; the mixes are {names}")
    if args.quick:
        curve(args.seed or [1], mixes[:2], args.jobs, not args.no_prior, args.budget_only)
    else:
        curve(args.seed or [1, 2, 3], mixes, args.jobs, not args.no_prior, args.budget_only)


if __name__ == "__main__":
    main()
