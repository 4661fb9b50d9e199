"""The learning curve's arms with a user-level prior (``bench/escalation_curve.py`` runs
them beside its own; ``--no-prior`` leaves them out).

The curve's other arms learn from their own record alone. A user of the harness has more:
the user record (``escalation.record``) holds the outcomes of the user's other projects,
and the harness reads it twice, as it does here: the matrix's benefit of a topic leans on
their share of answers that mattered (``Matrix.benefit``), and the fit counts their
outcomes as a prior of at most ``escalation.fit.PRIOR_OUTCOMES`` outcomes, so that a new
project starts from what they learned and its own record takes over as it grows.

The user's other projects (``OTHERS``): one of each of the curve's five mixes, at seeds
701-705, none of which the curve evaluates, each a history of 1,000 steps run alone under
the shipped default (equal weights, threshold 0.6, learning off: a user's projects before
learning, and what a budget arm keeps in force in most of the curve's runs). Their
outcomes, labelled as the curve labels them, make the user record. So the evaluated
project's prior never holds an outcome of its own history, held-out or sample steps; it
does hold a project of its own mix (another seed), as a user with several projects of
one kind would.

Arms per evaluated run (mix x seed), trained on the same history as the curve's:

- "fixed + user prior": the shipped default with the user record (learning off): what
  the default does for this user, and the budget's source;
- "budget + user prior": learning with a question budget per session equal to what that
  default asks per session at the end, counted on the curve's 2,000 sample steps;
- "budget+prior fit @ rate": that arm's newest fitted weights, whether its held-out check
  put them in force or not, asking on exactly as many held-out steps as the default with
  the prior (the curve's "budget fit @ fixed rate", with the prior);
- "user prior w @ rate": the weights the user record alone teaches (a logistic fit of its
  outcomes, each counted 1), on the scores of the default with the prior, asking as often
  as it does: what the best use of the prior's weights could give, the project's own
  record set aside.
"""

from __future__ import annotations

import random
import shutil
from concurrent.futures import Executor
from pathlib import Path

from bench import escalation_curve as curve
from escalation.logistic import logistic, rows_of
from escalation.record import Record

OTHERS = tuple((mix, 701 + i) for i, mix in enumerate(curve.MIXES))
"""The user's other projects: (mix, seed)."""
USER_FILE = "user-outcomes.db"
NAMES = (
    "fixed + user prior",
    "budget + user prior",
    "budget+prior fit @ rate",
    "user prior w @ rate",
)
ARM_OF = {NAMES[2]: NAMES[1]}
COMPARED = {  # the learned side against the fixed side it must beat
    "budget+prior = default+prior's rate": (NAMES[1], NAMES[0]),
    "budget+prior vs shipped default": (NAMES[1], curve.NAMES[0]),
    "budget+prior fit @ default+prior's rate": (NAMES[2], NAMES[0]),
    "user prior w @ default+prior's rate": (NAMES[3], NAMES[0]),
}


def describe() -> str:
    """The user's other projects, in words."""
    said = ", ".join(f"{mix.name} {seed}" for mix, seed in OTHERS)
    return (
        f"user prior: {len(OTHERS)} other projects ({said}), 1,000 outcomes each under the "
        "shipped default"
    )


def other_project(mix: curve.Mix, seed: int, folder: Path) -> Path:
    """One of the user's other projects: ``mix``'s history of ``seed`` run under the shipped
    default; returns the folder of its project record."""
    history = curve.draws(mix, seed).history
    default = curve.fixed_config()
    arm = curve.Arm("other", default, False, folder / f"other-{mix.name}-{seed}")
    arm.open()
    done = 0
    for point in curve.CHECKPOINTS:
        curve.train(arm, history, random.Random(seed + point), done, point)
        done = point
    arm.close()
    return arm.folder / ".harness"


def user_record(projects: list[Path], path: Path) -> Path:
    """The user record made of the other projects' outcomes (in ``OTHERS`` order)."""
    with Record(path) as user:
        for state in projects:
            with Record.of_project(state) as record:
                project = record.project_id()
                user.add(project, record.outcomes(project))
    return path


def user_record_in(folder: Path, pool: Executor) -> Path:
    """The user record in ``folder``: made there once (the other projects run on
    ``pool``), then reused by every bench run kept in that folder."""
    folder.mkdir(parents=True, exist_ok=True)
    user = folder / USER_FILE
    if not user.exists():
        made = [pool.submit(other_project, mix, seed, folder / "others") for mix, seed in OTHERS]
        user_record([job.result() for job in made], user)
    return user


def prior_weights(path: Path) -> tuple[float, float, float]:
    """The weights the user record alone teaches (equal ones when no signal predicts)."""
    with Record(path) as user:
        cells = user.cells(up_to=user.last_id())
    beta, _ = logistic(rows_of(cells, 1.0))
    strength = sum(beta[1:])
    if strength <= 1e-9:
        return (1 / 3, 1 / 3, 1 / 3)
    return (beta[1] / strength, beta[2] / strength, beta[3] / strength)


def run_prior(
    mix: curve.Mix, seed: int, folder: Path, user: Path
) -> tuple[dict[str, curve.Row], dict[str, str]]:
    """{row: [(recall, asks/100) at each checkpoint]} of the prior's arms for one mix and
    seed, and what of the default the budget arm still has in force (``curve.kept``)."""
    history, held_out, sample = curve.draws(mix, seed)
    here = folder / f"{mix.name}-{seed}-prior"
    here.mkdir(parents=True)
    mine = shutil.copyfile(user, here / USER_FILE)  # each run reads its own copy
    taught = prior_weights(mine)
    default = curve.fixed_config()
    rows: dict[str, curve.Row] = {name: [] for name in NAMES}
    fixed = curve.Arm(NAMES[0], default, False, here / "fixed", user=mine)
    fixed.open()
    fixed_asks, fixed_seen, done = [], [], 0
    for point in curve.CHECKPOINTS:
        curve.train(fixed, history, random.Random(seed + point), done, point)
        done = point
        seen = curve.scored(fixed, held_out)
        asks = [a for *_, a in seen]
        fixed_asks.append(sum(asks))
        fixed_seen.append(seen)
        rows[NAMES[0]].append(curve.measure(asks, held_out))
        scores = [taught[0] * u + taught[1] * n + taught[2] * b for u, n, b, _ in seen]
        rows[NAMES[3]].append(curve.measure(curve.top(scores, sum(asks)), held_out))
    budget = curve.SESSION * sum(a for *_, a in curve.scored(fixed, sample)) / curve.SAMPLE
    fixed.close()
    config = default.model_copy(
        update={"learn": True, "target_questions_per_session": max(budget, 0.05)}
    )
    arm = curve.Arm(NAMES[1], config, True, here / "budget", user=mine)
    arm.open()
    done = 0
    for index, point in enumerate(curve.CHECKPOINTS):
        curve.train(arm, history, random.Random(seed + point), done, point)
        done = point
        seen = curve.scored(arm, held_out)
        rows[NAMES[1]].append(curve.measure([a for *_, a in seen], held_out))
        w = curve.fitted_weights(arm)
        scores = [w[0] * u + w[1] * n + w[2] * b for u, n, b, _ in seen]
        rows[NAMES[2]].append(curve.measure(curve.top(scores, fixed_asks[index]), held_out))
    held = {NAMES[1]: curve.kept(arm)}
    arm.close()
    return rows, held
