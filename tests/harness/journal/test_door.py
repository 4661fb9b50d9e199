"""The door's values passed in (redactor, event sink, step hook), the digest check of a
model step's inputs, and the store's batch (all or nothing), on every store."""

from __future__ import annotations

import time
import warnings

import pytest

from harness.errors import JournalError
from harness.events import Event
from harness.journal import Journal, Location, TranscriptChanged, door
from harness.journal.codec import encode
from harness.journal.records import Begin
from harness.model import ModelResponse, Usage
from harness.redact import Redactor


def test_a_changed_transcript_is_said_and_the_answer_replayed(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)
        s.step("llm", "m", {"new_messages": ["hello"]}, lambda: {"text": "paid once"})
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        with pytest.warns(TranscriptChanged, match="inputs differ from the ones recorded"):
            again = s.step("llm", "m", {"new_messages": ["hello, edited"]}, lambda: {"text": "x"})
        assert again == {"text": "paid once"}  # paid for, and what the session went on from
        assert [(r.status, r.attempts) for r in journal.steps(run.id)] == [("ended", 1)]


def test_a_request_in_flight_with_another_transcript_is_a_new_row(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        s = run.session(1)

        def killed() -> dict[str, str]:
            raise KeyboardInterrupt  # the process died with the request in flight

        with pytest.raises(KeyboardInterrupt):
            s.step("llm", "m", {"new_messages": ["v1"]}, killed)
    with Journal.open(where) as journal:
        s = journal.resume_run(run.id).session(1)
        seen: list[bool] = []
        with pytest.warns(TranscriptChanged, match="in flight is superseded"):
            s.step("llm", "m", {"new_messages": ["v2"]},
                   lambda: seen.append(s.resumed_in_flight) or {"text": "new"})  # fmt: skip
        assert seen == [True]  # the lost request may have been billed: the loop counts it
        live = journal.steps(run.id)
        every = journal.steps(run.id, include_superseded=True)
        detail = journal.step_detail(run.id, 1, 1)
    assert [(r.status, r.attempts) for r in live] == [("ended", 1)]
    assert sorted(r.status for r in every) == ["ended", "superseded"]
    assert detail is not None and detail.inputs == {"new_messages": ["v2"]}


def test_the_same_transcript_replays_without_a_word(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        run.session(1).step("llm", "m", {"new_messages": ["a"]}, lambda: 1)
    with Journal.open(where) as journal, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert journal.resume_run(run.id).session(1).step(
            "llm", "m", {"new_messages": ["a"]}, lambda: 2
        ) == 1  # fmt: skip


def test_the_redactor_the_event_sink_and_the_hook_are_the_run_s_own(where: Location) -> None:
    secret = "correct horse battery staple 9931"  # not key-shaped: only its value finds it
    events: list[Event] = []
    wrapped: list[str] = []

    def hook(kind: str, name: str, fn: object) -> object:
        wrapped.append(f"{kind}:{name}")
        return fn

    class Sink:
        active = True

        def emit(self, event: Event) -> None:
            events.append(event)

    redactor = Redactor({"MY_PROVIDER_KEY": secret})
    with Journal.open(where, redactor=redactor, events=Sink(), hook=hook) as journal:
        run = journal.start_run()
        s = run.session(1)
        s.step("tool", "echo", {"said": secret}, lambda: {"out": secret})
        s.close("complete", {"note": secret})
        detail = journal.step_detail(run.id, 1, 1)
    assert detail is not None and secret not in repr(detail.inputs) + repr(detail.output)
    assert [e.type for e in events] == [
        "session.started", "step.started", "step.ended", "session.ended",
    ]  # fmt: skip
    assert secret not in repr(events)
    assert wrapped == ["tool:echo"]
    with Journal.open(where, hook=hook) as journal:  # replayed: the hook is not asked
        journal.resume_run(run.id).session(1).step("tool", "echo", {}, lambda: 0)
    assert wrapped == ["tool:echo"]


def test_a_batch_writes_all_or_nothing(where: Location) -> None:
    with Journal.open(where) as journal:
        run = journal.start_run()
        journal.store.open_session(run.id, 1, "{}", time.time())
        mac = bytes(32)

        def begin(seq: int) -> Begin:
            return Begin(run.id, 1, seq, "tool", "t", "d" * 64, "{}", None, 1, time.time(), mac)

        with pytest.raises(RuntimeError), journal.store.batch():
            journal.store.begin(begin(1))
            journal.store.begin(begin(2))
            raise RuntimeError("the second half never came")
        assert journal.steps(run.id) == []
        with journal.store.batch(), journal.store.batch():  # nested: one transaction
            journal.store.begin(begin(1))
        assert [r.seq for r in journal.steps(run.id)] == [1]
        with pytest.raises(JournalError):
            journal.store.begin(begin(1))  # a step is recorded once


def test_a_model_answer_tells_its_usage_and_its_text_is_not_parsed_again(
    where: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model step's row carries its tokens and dollars as its recorded text says them,
    told by the answer: its text (the transcript's new turn) is not parsed again a step."""
    secret = "correct horse battery staple 9931"
    redactor = Redactor({"MY_PROVIDER_KEY": secret})
    answers = [
        ModelResponse(content="a", usage=Usage(prompt_tokens=40, total_tokens=42, cost_usd=0.5)),
        ModelResponse(content=f"it is {secret}", usage=Usage(total_tokens=7, cost_usd=2)),
        ModelResponse(usage=Usage(), estimated_usage=Usage(total_tokens=9, cost_usd=1.0)),
    ]
    told = [(42, 0.5), (7, 2.0), (0, 0.0)]
    assert [door._usage(encode(a, redactor)) for a in answers] == told  # what the text says
    assert [a.journal_usage() for a in answers] == told

    def parsed(text: str) -> object:
        raise AssertionError("a model step's answer was parsed again for its usage")

    monkeypatch.setattr(door, "from_json", parsed)
    with Journal.open(where, redactor=redactor) as journal:
        run = journal.start_run()
        s = run.session(1)
        for answer in answers:
            s.step("llm", "m", {"new_messages": [answer.content]}, lambda a=answer: a)
        assert [(r.tokens, r.cost_usd) for r in journal.steps(run.id)] == told
