"""Escalation that learns from its record, over real sessions (in process: scripted model,
fake runner, real SQLite journal and records, real git).

Each session works one feature with the same shape of turns: a hedged turn (A) that the
matrix asks about while it has no record, a turn stating a 0.7 confidence in its tool call
(B) that it does not ask about at first, then the checks. A scripted human answers every
question. Where the human keeps saying "go ahead", the record says answers do not matter
and the harness asks less; where the human keeps redirecting the agent (and the agent,
left alone, undoes what it did at B), it asks more.
"""

from __future__ import annotations

import io
import itertools
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from artifacts.config import EscalationConfig, HarnessConfig
from escalation import QuestionStore
from escalation.fit import policy_of
from harness.cli.live import JsonStream, ProgressLines
from harness.events import Event, Events, Observer
from session.cycle import run_session
from session.wiring import build_escalation
from tests.session.inproc import call, feature, make_project, script, session_env, turn

_VOCABULARY = (
    "kafka ledger invoice tenant oauth webhook cron shard quota billing cache locale pdf "
    "export sso audit queue retry backoff tls cert dns region vault rotation bucket upload "
    "thumbnail video codec stream latency histogram alert pager contract license consent "
    "cookie banner captcha fraud refund currency timezone calendar reminder offline sync"
)
WORDS = _VOCABULARY.split()


def topic_words(k: int, salt: str) -> str:
    return " ".join(random.Random(f"{salt}{k}").sample(WORDS, 9))


def turns(k: int, *, undo: bool) -> list[dict[str, Any]]:
    """Feature k's session: turn A (hedged), turn B (confidence 0.7), then the checks;
    with ``undo`` the agent, left alone at B, puts B's change back (it should have asked)."""
    f = f"F{k:03d}"
    a = f"I think {topic_words(k, 'a')} should answer 404, maybe."
    b = f"Writing the {topic_words(k, 'b')} notes."
    draft = call("write_file", path=f"notes_{k}.txt", content=f"draft {k}\n", confidence=0.7)
    found = [
        turn(call("write_file", path=f"api_{k}.txt", content="404\n"), text=a),
        turn(draft, text=b),
    ]
    if undo:
        back = call("write_file", path=f"notes_{k}.txt", content=f"original {k}\n")
        found.append(turn(back, text="Back to the old notes."))
    found += [
        turn(call("verify_feature", feature=f)),
        turn(call("mark_passing", feature=f)),
        {"text": f"{f} done."},
    ]
    return found


@contextmanager
def human(store: QuestionStore, answer: str) -> Iterator[tuple[list[str], Observer]]:
    """A person at the terminal who answers every question the same way, as soon as the
    run says it waits for one (its `question` event): the questions answered, and the
    observer that answers them (a thread polling the store answered each one a poll of the
    run's wait later, 0.2 s a question)."""
    seen: list[str] = []

    def answer_it(event: Event) -> None:
        if event.type == "question" and event.status == "waiting":
            question = str(event.data["id"])
            store.answer(question, text=answer)
            seen.append(question)

    yield seen, answer_it


def drive(
    root: Path,
    sessions: int,
    *,
    answer: str,
    undo: bool,
    recall: float = 0.8,
    events: Events | None = None,
) -> tuple[list[int], Any]:
    """Run ``sessions`` sessions (interactive, the human answering); the questions each
    asked, and the fits kept. ``recall``: the project's target; ``events``: the run's
    observers."""
    root.mkdir(parents=True)
    for k in range(1, sessions + 1):
        (root / f"notes_{k}.txt").write_text(f"original {k}\n")
    features = [feature(k) for k in range(1, sessions + 1)]
    make_project(root, *features, git=True)
    scenes = [
        {"name": f"F{k:03d}", "match": f"Feature F{k:03d}\\b", "turns": turns(k, undo=undo)}
        for k in range(1, sessions + 1)
    ]
    env = session_env(root, script(scenes=scenes))
    config = HarnessConfig(escalation=EscalationConfig(min_outcomes=12, target_recall=recall))
    env.gates = build_escalation(root, config, env.run.id, unattended=False)
    asked = []
    try:
        with human(env.gates.store, answer) as (_, answerer):
            env.gates.events = Events(answerer, *([events.emit] if events is not None else []))
            for number in range(1, sessions + 1):
                outcome = run_session(env, number)
                assert outcome.ending == "passing", outcome
                asked.append(env.gates.store.count_asked(number, run=env.run.id))
        fits = env.gates.matrix.record.fits(env.gates.matrix.project)
        return asked, fits
    finally:
        env.gates.close()
        env.run.journal.close()


def test_a_project_whose_humans_keep_saying_go_ahead_asks_less(fast_path: Path) -> None:
    asked, _ = drive(fast_path / "p", 10, answer="go ahead", undo=False)
    assert asked[0] == 1  # turn A, while there is no record
    assert sum(asked[5:]) < sum(asked[:5])
    assert asked[-3:] == [0, 0, 0]


@pytest.mark.slow  # 1.3 CPU-s
def test_a_project_whose_answers_keep_changing_the_outcome_asks_more(fast_path: Path) -> None:
    answer = "no: it must return 410"
    asked, fits = drive(fast_path / "p", 10, answer=answer, undo=True, recall=0.95)
    assert asked[0] == 1  # turn A only: B (confidence 0.7) is below the threshold at first
    assert sum(asked[5:]) > sum(asked[:5])
    assert asked[-3:] == [2, 2, 2]  # now B too
    assert fits, "enough outcomes for a fit"


def test_a_refit_that_changes_the_policy_says_so_on_the_progress_lines(fast_path: Path) -> None:
    seen: list[Event] = []
    lines, stream = io.StringIO(), io.StringIO()
    events = Events(seen.append, ProgressLines(lines), JsonStream(stream))
    _, fits = drive(fast_path / "p", 6, answer="no: it must return 410", undo=True, events=events)
    said = [e for e in seen if e.type == "policy.changed"]
    # one event per refit that changed the weights or threshold in force, none for the rest
    config = EscalationConfig(min_outcomes=12, target_recall=0.8)
    policies = [policy_of(None, config)] + [policy_of(f, config) for f in fits]
    changes = [
        (before, after)
        for before, after in itertools.pairwise(policies)
        if (before.weights, before.threshold) != (after.weights, after.threshold)
    ]
    assert changes, "the record grew enough for a fit that moves the policy"
    assert len(said) == len(changes)
    for event, (before, after) in zip(said, changes, strict=True):
        assert event.data["weights"] == list(after.weights)
        assert event.data["threshold_before"] == before.threshold
        assert event.data["threshold"] == after.threshold
        assert f"threshold {before.threshold:.3f} -> {after.threshold:.3f}" in event.detail
    shown = [line for line in lines.getvalue().splitlines() if "escalation policy" in line]
    assert len(shown) == len(said)
    assert shown[0].startswith(f"  s{said[0].session} escalation policy refitted on ")
    assert "(uncertainty/novelty/benefit)" in shown[0]
    streamed = [json.loads(line) for line in stream.getvalue().splitlines()]
    changed = [o for o in streamed if o["type"] == "policy.changed"]
    assert [o["threshold"] for o in changed] == [e.data["threshold"] for e in said]
