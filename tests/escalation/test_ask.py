"""ask_human: park when unattended, wait when interactive, replay answers; is_unattended."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import pytest

from artifacts.config import GatesConfig
from escalation.ask import ask_human, gate_action, is_unattended
from escalation.gates import Action, Gates
from escalation.questions import QuestionStore
from harness.errors import ExitCode, Parked


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_is_unattended() -> None:
    tty = FakeTTY()
    assert not is_unattended(False, env={}, stdin=tty)
    assert is_unattended(True, env={}, stdin=tty)
    assert is_unattended(False, env={"CI": "true"}, stdin=tty)
    assert not is_unattended(False, env={"CI": "false"}, stdin=tty)
    assert is_unattended(False, env={}, stdin=io.StringIO())  # not a TTY
    closed = io.StringIO()
    closed.close()  # isatty() raises on a closed stream
    assert is_unattended(False, env={}, stdin=closed)


def test_unattended_parks_then_replays_the_answer(store: QuestionStore) -> None:
    asked = dict(text="Which port?", choices=["8000", "8080"], step_ref="journal:r/1/4")
    parked = ask_human(store, interactive=False, session=1, **asked)  # type: ignore[arg-type]
    assert parked.parked and parked.status == "parked"
    with pytest.raises(Parked) as info:
        parked.raise_if_parked()
    assert info.value.exit_code == ExitCode.WAITING
    assert info.value.question_id == "q1"
    assert "harness answer q1" in str(info.value)
    # next run, still no answer: same question, parked again
    again = ask_human(store, interactive=False, session=1, **asked)  # type: ignore[arg-type]
    assert again.parked and again.question.id == "q1"
    store.answer("q1", choice=1)
    # the replay after the answer returns at once, even "interactive"
    start = time.monotonic()
    replay = ask_human(store, interactive=True, session=1, **asked)  # type: ignore[arg-type]
    assert time.monotonic() - start < 0.5
    assert replay.status == "answered" and replay.question.answer == "8080"
    assert "The human answered q1: 8080" in replay.text_for_model()
    assert "(choice 2 of 2)" in replay.text_for_model()
    assert len(store.all()) == 1


def test_interactive_waits_for_the_answer(store: QuestionStore) -> None:
    seen: list[str] = []

    def answer_soon() -> None:
        time.sleep(0.2)
        store.approve("q1")

    threading.Thread(target=answer_soon).start()
    result = ask_human(
        store,
        "push?",
        kind="approval",
        interactive=True,
        poll_s=0.02,
        on_wait=lambda q: seen.append(q.id),
    )
    assert seen == ["q1"]
    assert result.status == "approved" and not result.parked
    assert "Approved" in result.text_for_model()


def test_interactive_timeout_parks(store: QuestionStore) -> None:
    result = ask_human(store, "anyone?", interactive=True, wait_timeout=0.1, poll_s=0.02)
    assert result.status == "timeout" and result.parked


def test_denial_text(store: QuestionStore) -> None:
    ask_human(store, "rm -rf /?", kind="approval", interactive=False)
    store.deny("q1", "never")
    result = ask_human(store, "rm -rf /?", kind="approval", interactive=False)
    assert result.status == "denied"
    text = result.text_for_model()
    assert text.startswith("POLICY DENIAL") and "never" in text and "Do not retry" in text


def test_default_key_tells_sessions_apart(store: QuestionStore) -> None:
    one = ask_human(store, "same words", interactive=False, session=1)
    two = ask_human(store, "same words", interactive=False, session=2)
    again = ask_human(store, "same words", interactive=False, session=1)
    assert (one.question.id, two.question.id, again.question.id) == ("q1", "q2", "q1")


def test_gate_action(store: QuestionStore) -> None:
    gates = Gates(GatesConfig(command_patterns=[r"deny:\bmkfs\b"]))
    run = Action(tool="run_command", args={"command": "git status"}, workspace_root="/p")
    assert gate_action(gates, store, run, interactive=False).allowed
    mkfs = Action(tool="run_command", args={"command": "mkfs /dev/sda"}, workspace_root="/p")
    denied = gate_action(gates, store, mkfs, interactive=False)
    assert not denied.allowed and denied.denial and denied.denial.startswith("POLICY DENIAL")
    assert store.all() == []  # an outright denial asks nobody
    push = Action(tool="run_command", args={"command": "git push"}, workspace_root="/p")
    parked = gate_action(gates, store, push, interactive=False, step_ref="journal:r/1/9")
    assert parked.parked and not parked.allowed
    question = store.get("q1")
    assert question.kind == "approval" and question.topic == "gate:command:git push"
    store.deny("q1", "not from the agent")
    replay = gate_action(gates, store, push, interactive=False, step_ref="journal:r/1/9")
    assert not replay.allowed and not replay.parked
    assert replay.denial and "not from the agent" in replay.denial and "human" in replay.denial
    again = gate_action(gates, store, push, interactive=False, step_ref="journal:r/1/10")
    assert again.parked
    store.approve("q2")
    assert gate_action(gates, store, push, interactive=False, step_ref="journal:r/1/10").allowed


def test_no_tty_in_a_real_subprocess() -> None:
    code = "from escalation.ask import is_unattended; print(is_unattended(False))"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "True"
