"""The outcome labels, settled from a session's trace: each one moves the way its definition
in escalation/outcomes.py says, and the agent's reaction cannot overrule a human's answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalation.matrix import Decision
from escalation.outcomes import agrees
from escalation.questions import QuestionStore
from escalation.trace import (
    Decided,
    Settling,
    Trace,
    call_signature,
    content_digest,
    file_digest,
    settle,
)

WRITE_A = ("write_file", '{"path": "a.txt", "content": "404"}')
WRITE_B = ("write_file", '{"path": "a.txt", "content": "410"}')


def decision(topic: str = "turn", escalate: bool = False) -> Decision:
    return Decision(
        topic=topic, uncertainty=0.7, novelty=0.4, benefit=0.5, total=0.53, threshold=0.6,
        weights=(1 / 3, 1 / 3, 1 / 3), escalate=escalate, reason="r",
    )  # fmt: skip


def how(store: QuestionStore, root: Path, passed: bool = False) -> Settling:
    return Settling(
        run="r1", session=1, task_type="functional", feature_passed=passed,
        question=store.find_id, on_disk=lambda p: file_digest(root / p),
    )  # fmt: skip


def asked(store: QuestionStore, answer: str, *, choices: list[str] | None = None) -> str:
    question = store.ask("question", "404 or 410?", choices=choices or [], run="r1", session=1)
    if choices and answer in choices:
        store.answer(question.id, choice=choices.index(answer))
    else:
        store.answer(question.id, text=answer)
    return question.id


def test_go_ahead_answers_did_not_need_asking(store: QuestionStore, project: Path) -> None:
    trace = Trace()
    trace.turn([WRITE_A])
    trace.decided(Decided("journal:r1/1/2", "turn", "404?", decision(escalate=True),
                          question=asked(store, "yes, go ahead")))  # fmt: skip
    trace.turn([WRITE_A])  # the agent does what it meant to
    [outcome] = settle(trace, how(store, project, passed=True))
    assert outcome.asked and outcome.human_agreed and outcome.agent_changed is False
    assert not outcome.should_ask and outcome.feature_passed and outcome.task_type == "functional"


def test_an_answer_that_redirects_the_agent_mattered(store: QuestionStore, project: Path) -> None:
    trace = Trace()
    trace.turn([WRITE_A])
    trace.decided(Decided("k", "turn", "404?", decision(escalate=True),
                          question=asked(store, "no: return 410")))  # fmt: skip
    trace.turn([WRITE_B])
    [outcome] = settle(trace, how(store, project))
    assert outcome.should_ask and outcome.agent_changed is True and not outcome.human_agreed


def test_an_agent_that_ignores_the_answer_cannot_teach_that_asking_is_useless(
    store: QuestionStore, project: Path
) -> None:
    """Attack: a hostile model repeats its calls whatever the human said, so that its
    escalations look like they changed nothing. The label rests on the human's answer."""
    trace = Trace()
    trace.turn([WRITE_A])
    trace.decided(Decided("k", "turn", "404?", decision(escalate=True),
                          question=asked(store, "no, never return 404")))  # fmt: skip
    trace.turn([WRITE_A])
    [outcome] = settle(trace, how(store, project))
    assert outcome.agent_changed is False
    assert outcome.should_ask


def test_the_same_calls_resent_otherwise_spelled_are_not_a_change(
    store: QuestionStore, project: Path
) -> None:
    """A turn keeps its calls as the model sent them and compares their signatures: the
    same call with its keys reordered and a confidence added is what the agent meant."""
    trace = Trace()
    trace.turn([WRITE_A])
    trace.decided(Decided("k", "turn", "404?", decision(escalate=True),
                          question=asked(store, "no, never return 404")))  # fmt: skip
    trace.turn([("write_file", '{"confidence": 0.9, "content": "404", "path": "a.txt"}')])
    [outcome] = settle(trace, how(store, project))
    assert outcome.agent_changed is False


def test_the_agents_default_choice_counts_as_agreement(store: QuestionStore, project: Path) -> None:
    trace = Trace()
    same = asked(store, "410", choices=["404", "410"])
    other = asked(store, "404", choices=["404", "410"])
    trace.decided(Decided("k1", "ask_human", "which?", decision("ask_human", True), same, "410"))
    trace.decided(Decided("k2", "ask_human", "which?", decision("ask_human", True), other, "410"))
    first, second = settle(trace, how(store, project))
    assert first.human_agreed and not first.should_ask and first.agent_changed is None
    assert not second.human_agreed and second.should_ask


def test_a_change_put_back_later_was_undone(store: QuestionStore, project: Path) -> None:
    target = project / "a.txt"
    target.write_text("old")
    before = content_digest(b"old")
    trace = Trace()
    trace.turn([WRITE_A])
    trace.decided(Decided("k1", "turn", "I think 404", decision()))
    trace.wrote("a.txt", before, content_digest(b"404"))
    trace.decided(Decided("k2", "turn", "write b", decision()))
    trace.wrote("b.txt", None, content_digest(b"x"))
    trace.decided(Decided("k3", "turn", "that was wrong, back", decision()))
    trace.wrote("a.txt", content_digest(b"404"), before)
    (project / "b.txt").write_text("x")
    first, second, third = settle(trace, how(store, project))
    assert first.undone and first.should_ask and not first.asked
    assert second.undone is False and not second.should_ask  # b.txt is still there
    assert third.undone is False  # its own write is what stands
    target.unlink()  # a file the window created and that is gone now: undone too
    (project / "b.txt").unlink()
    assert settle(trace, how(store, project))[1].undone


def test_a_failed_check_counts_only_when_nothing_passed_after_it(
    store: QuestionStore, project: Path
) -> None:
    trace = Trace()
    trace.decided(Decided("k1", "turn", "write the handler", decision()))
    trace.checked("F001", False)
    trace.decided(Decided("k2", "turn", "fix the handler", decision()))
    trace.checked("F001", True)
    fixed = settle(trace, how(store, project))
    assert [o.check_failed for o in fixed] == [False, False]
    trace.decided(Decided("k3", "turn", "refactor it", decision()))
    trace.checked("F001", False)
    broken = settle(trace, how(store, project))
    assert [o.check_failed for o in broken] == [False, False, True]
    assert broken[2].should_ask


def test_a_later_answer_about_a_similar_situation_shows_it_should_have_asked(
    store: QuestionStore, project: Path
) -> None:
    trace = Trace()
    text = "the endpoint should return 404 or 410 for a deleted user, the spec says nothing"
    trace.decided(Decided("k1", "turn", text, decision()))
    trace.decided(Decided("k2", "turn", "rename helpers in utils.py", decision()))
    trace.decided(Decided("k3", "turn", text + " again", decision(escalate=True),
                          question=asked(store, "410, always")))  # fmt: skip
    first, second, third = settle(trace, how(store, project))
    assert first.later_answer and first.should_ask
    assert second.later_answer is False and not second.should_ask
    assert third.asked and third.should_ask


def test_an_unanswered_question_leaves_its_decision_unasked(
    store: QuestionStore, project: Path
) -> None:
    pending = store.ask("question", "?", run="r1", session=1)
    trace = Trace()
    trace.decided(Decided("k", "turn", "x", decision(escalate=True), question=pending.id))
    [outcome] = settle(trace, how(store, project))
    assert not outcome.asked and outcome.human_agreed is None


@pytest.mark.parametrize(
    ("answer", "agreed"),
    [
        ("go ahead", True),
        ("Yes, go ahead!", True),
        ("LGTM", True),
        ("up to you", True),
        ("no", False),
        ("ok but use port 8080", False),
        ("thanks", False),
        ("", False),
    ],
)
def test_what_counts_as_a_go_ahead(answer: str, agreed: bool) -> None:
    assert agrees(answer) is agreed


def test_call_signatures_ignore_confidence_and_key_order() -> None:
    a = call_signature("run", '{"command": "ls", "confidence": 0.2, "timeout_s": 5}')
    b = call_signature("run", '{"timeout_s": 5, "command": "ls"}')
    assert a == b != call_signature("run", '{"command": "ls -a"}')
    assert call_signature("run", "{not json") == "run:{not json"
