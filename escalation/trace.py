"""What a session did around its escalation decisions, in order, and the outcomes it settles.

The session adds to a ``Trace`` as its steps run or replay (the model's turns, the matrix's
decisions, the files its tools changed, the feature checks it ran), so a session resumed
in another process rebuilds the same trace. ``settle`` labels every decision when the
session closes (the labels are defined in ``escalation.outcomes``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from escalation.embed import HashedEmbedder, cosine
from escalation.outcomes import SIMILAR, Outcome, Source, agrees

if TYPE_CHECKING:
    from escalation.matrix import Decision
    from escalation.questions import Question


@dataclass(frozen=True)
class Turn:
    """A model turn: the tool calls it made, each (name, arguments as the model sent them).

    Compared by their signatures (:attr:`calls`), worked out only when asked: a turn
    held back for a human is compared with the next; a resume's thousands of replayed
    turns never are (parsing and re-serialising each call's arguments was 4% of it)."""

    made: tuple[tuple[str, str], ...]

    @property
    def calls(self) -> tuple[str, ...]:
        """The signatures of its calls (:func:`call_signature`)."""
        return tuple(call_signature(name, arguments) for name, arguments in self.made)


@dataclass(frozen=True)
class Decided:
    """One decision of the matrix, and whether a question was filed for it."""

    key: str
    source: Source
    text: str
    decision: Decision
    question: str | None = None
    """The question's id when one was filed."""
    default: str | None = None
    """What the agent said it would do if left to decide (ask_human's ``default``)."""


@dataclass(frozen=True)
class Wrote:
    """A file a tool changed: digests of its bytes before and after (None: absent)."""

    path: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Checked:
    """A feature check the harness ran, and whether it passed."""

    feature: str
    passed: bool


Event = Turn | Decided | Wrote | Checked


def call_signature(name: str, arguments: str) -> str:
    """A tool call as compared across turns: its name and canonical arguments, without the
    ``confidence`` a model may add to any call."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return f"{name}:{arguments}"
    if isinstance(parsed, dict):
        parsed.pop("confidence", None)
    return f"{name}:{json.dumps(parsed, sort_keys=True)}"


def content_digest(data: bytes) -> str:
    """The digest a ``Wrote`` event and ``file_digest`` give the same bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str | None:
    """The digest of a regular file's bytes (None: absent, or not a regular file)."""
    try:
        if not path.is_file() or path.is_symlink():
            return None
        with path.open("rb") as handle:
            return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def situation_digest(topic: str, text: str) -> str:
    return "sha256:" + hashlib.sha256(f"{topic}\n{text}".encode()).hexdigest()[:32]


@dataclass
class Trace:
    """The ordered events of one session (see the module docstring)."""

    events: list[Event] = field(default_factory=list)

    def turn(self, calls: Sequence[tuple[str, str]]) -> None:
        """A model turn's tool calls, each (name, arguments as sent)."""
        self.events.append(Turn(tuple(calls)))

    def decided(self, event: Decided) -> None:
        self.events.append(event)

    def wrote(self, path: str, before: str | None, after: str | None) -> None:
        if before != after:
            self.events.append(Wrote(path, before, after))

    def checked(self, feature: str, passed: bool) -> None:
        self.events.append(Checked(feature, passed))

    def decisions(self) -> list[Decided]:
        return [e for e in self.events if isinstance(e, Decided)]


@dataclass(frozen=True)
class Settling:
    """What ``settle`` needs besides the trace."""

    run: str
    session: int
    task_type: str
    feature_passed: bool
    question: Callable[[str], Question | None]
    """The question with this id (for its answer), if it exists."""
    on_disk: Callable[[str], str | None]
    """The digest of a project file's bytes now (None: absent)."""


def settle(trace: Trace, how: Settling) -> list[Outcome]:
    """One outcome per decision of the trace (labels: ``escalation.outcomes``)."""
    events = trace.events
    indexes = [i for i, e in enumerate(events) if isinstance(e, Decided)]
    answered: dict[int, tuple[bool, bool | None]] = {}
    for index in indexes:
        event = events[index]
        assert isinstance(event, Decided)
        question = how.question(event.question) if event.question else None
        if question is not None and question.answer is not None and not question.pending:
            agreed = agrees(_answer_text(question), event.default)
            answered[index] = (agreed, _changed(events, index, event))
    embedder = HashedEmbedder()
    vectors = {i: embedder.embed(_text(events[i])) for i in indexes}
    outcomes = []
    for position, index in enumerate(indexes):
        event = events[index]
        assert isinstance(event, Decided)
        end = indexes[position + 1] if position + 1 < len(indexes) else len(events)
        if index in answered:
            agreed, changed = answered[index]
            labels = {"human_agreed": agreed, "agent_changed": changed}
            should = not agreed
        else:
            later = any(
                not answered[j][0] and cosine(vectors[index], vectors[j]) >= SIMILAR
                for j in answered
                if j > index
            )
            undone = _undone(events[index + 1 : end], how.on_disk)
            failed = _check_failed(events, index + 1, end)
            labels = {"undone": undone, "check_failed": failed, "later_answer": later}
            should = undone or failed or later
        outcomes.append(_outcome(event, how, asked=index in answered, should=should, **labels))
    return outcomes


def _outcome(
    event: Decided, how: Settling, *, asked: bool, should: bool, **labels: bool | None
) -> Outcome:
    d = event.decision
    return Outcome(
        key=event.key,
        source=event.source,
        topic=d.topic,
        task_type=how.task_type,
        situation=situation_digest(d.topic, event.text),
        run=how.run,
        session=how.session,
        uncertainty=d.uncertainty,
        structured=d.structured,
        novelty=d.novelty,
        benefit=d.benefit,
        score=d.total,
        threshold=d.threshold,
        weights=d.weights,
        policy=d.policy,
        asked=asked,
        capped=d.capped,
        hedge_only=d.hedge_only,
        question=event.question,
        feature_passed=how.feature_passed,
        should_ask=should,
    ).model_copy(update=labels)


def _answer_text(question: Question) -> str:
    if question.choice is not None and 0 <= question.choice < len(question.choices):
        return question.choices[question.choice]
    return question.answer or ""


def _text(event: Event) -> str:
    assert isinstance(event, Decided)
    return f"{event.decision.topic}\n{event.text}"


def _changed(events: list[Event], index: int, event: Decided) -> bool | None:
    """For a held-back turn: do the agent's next calls differ from the ones it meant?"""
    if event.source != "turn" or index == 0 or not isinstance(events[index - 1], Turn):
        return None
    meant = events[index - 1]
    assert isinstance(meant, Turn)
    if not meant.calls:
        return None
    following = next((e for e in events[index + 1 :] if isinstance(e, Turn)), None)
    return None if following is None else following.calls != meant.calls


def _undone(window: list[Event], on_disk: Callable[[str], str | None]) -> bool:
    return any(on_disk(path) == digest for path, digest in _before(window).items())


def _before(window: list[Event]) -> dict[str, str | None]:
    """Each file the window changed, with the digest of its bytes before the window."""
    before: dict[str, str | None] = {}
    for event in window:
        if isinstance(event, Wrote) and event.path not in before:
            before[event.path] = event.before
    return before


def sketches(trace: Trace) -> dict[str, dict[int, float]]:
    """Each decision's situation (by key) as a sparse hashed embedding: what a later
    session's answer is compared with (``escalation.relabel``), without the text."""
    embedder = HashedEmbedder()
    return {e.key: sparse(embedder.embed(_text(e))) for e in trace.decisions()}


def sparse(vector: list[float]) -> dict[int, float]:
    return {i: round(v, 6) for i, v in enumerate(vector) if v}


def windows(trace: Trace) -> dict[str, dict[str, str | None]]:
    """Each decision's window (by key): the files it changed, digests before; decisions
    whose window changed nothing are left out (``escalation.relabel`` reads them)."""
    events = trace.events
    indexes = [i for i, e in enumerate(events) if isinstance(e, Decided)]
    found = {}
    for position, index in enumerate(indexes):
        event = events[index]
        assert isinstance(event, Decided)
        end = indexes[position + 1] if position + 1 < len(indexes) else len(events)
        files = _before(events[index + 1 : end])
        if files:
            found[event.key] = files
    return found


def _check_failed(events: list[Event], start: int, end: int) -> bool:
    """A check failed in events[start:end] and no later check of its feature passed."""
    for index in range(start, end):
        event = events[index]
        if isinstance(event, Checked) and not event.passed:
            fixed = any(
                isinstance(e, Checked) and e.passed and e.feature == event.feature
                for e in events[index + 1 :]
            )
            if not fixed:
                return True
    return False
