"""A stop asked by SIGTERM holds even when the interrupt it raised is lost on its way up.

`harness.signals` raises the stop inside whatever the main thread runs when the signal
comes. Found by a CI run: the signal came while litellm's first call was importing one of
its modules; CPython turns an exception raised while a class is created (in a
``__set_name__``) into a ``RuntimeError``, litellm mapped that to ``APIConnectionError``,
and the retry policy sent the call again: the run went on after it said "stopping". And an
exception raised in a ``__del__`` is printed and dropped. These tests lose the interrupt
in both ways, for real (no exception is faked), inside a model call and inside a tool call.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness import signals
from harness.cli import main
from harness.model.make import scripted_in_process
from harness.model.names import import_litellm
from harness.model.policy import CallContext, Retrier
from tests.session.support import good_turns, init, make_project, passing, steps

T = TypeVar("T")


def _stop_inside_a_class_creation(signum: int = signal.SIGTERM) -> None:
    """``signum`` to this process while a class is being created: the handler's interrupt
    comes out of ``type.__new__`` as a RuntimeError (CPython wraps what a ``__set_name__``
    raises)."""

    class Descriptor:
        def __set_name__(self, owner: type, name: str) -> None:
            os.kill(os.getpid(), signum)  # the handler runs here, at once

    type("Lazy", (), {"field": Descriptor()})


def _stop_inside_a_finalizer() -> None:
    """SIGTERM to this process inside a ``__del__``: Python prints the interrupt and drops it."""

    class Finalized:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)

    Finalized()  # dropped at once: its __del__ runs here


@pytest.fixture(autouse=True)
def _main_thread() -> None:
    # Signal handlers run in the main thread only; the run is driven in this one.
    assert threading.current_thread() is threading.main_thread()


def test_the_class_creation_turns_the_interrupt_into_a_runtime_error() -> None:
    # What these tests rely on: the loss is real, not staged.
    with pytest.raises(RuntimeError) as caught, signals.interruptible():
        _stop_inside_a_class_creation()
    assert isinstance(caught.value.__cause__, signals.Terminated)


def test_a_call_whose_interrupt_became_a_provider_error_is_not_sent_again() -> None:
    litellm = import_litellm()
    sent: list[int] = []
    sleeps: list[float] = []

    def request() -> str:
        sent.append(1)
        if len(sent) == 1:
            try:
                _stop_inside_a_class_creation()
            except RuntimeError as error:  # what litellm's exception mapping makes of it
                raise litellm.APIConnectionError(
                    message=str(error), llm_provider="openai", model="m"
                ) from error
        return "answered"

    retrier = Retrier(CallContext("m", "openai", "OPENAI_API_KEY"), sleep=sleeps.append)
    with pytest.raises(signals.Terminated) as caught, signals.interruptible():
        retrier.call(request)
    assert caught.value.signum == signal.SIGTERM
    assert sent == [1] and sleeps == []  # stopped: no back-off, no second request
    assert isinstance(caught.value.__cause__, litellm.APIConnectionError)


class _LoseTheStop:
    """Step hooks that raise SIGTERM inside the first live step ``kind``, and lose it."""

    def __init__(self, kind: str, lose: Callable[[], None]) -> None:
        self.kind, self.lose, self.done = kind, lose, False

    def __call__(self) -> None:
        pass

    def wrap(self, kind: str, name: str, fn: Callable[[], T]) -> Callable[[], T]:
        if kind != self.kind or self.done:
            return fn

        def losing() -> T:
            self.done = True
            self.lose()
            return fn()  # if the interrupt is dropped, the step itself goes on

        return losing


def _run(root: Path, report: Path, hooks: Any, models: Any = None) -> int:
    argv = ["-C", str(root), "run", "--quiet", "--report", str(report)]
    return main(argv, hooks=hooks, models=models)


def _project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "p", count=1, sessions={1: good_turns(1)})
    init(root)
    return root


# The dropped interrupt is printed by Python as unraisable: that is the case under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("kind", "lose"),
    [
        ("llm", _stop_inside_a_class_creation),
        ("llm", _stop_inside_a_finalizer),
        ("tool", _stop_inside_a_class_creation),
        ("tool", _stop_inside_a_finalizer),
    ],
    ids=["llm-turned", "llm-dropped", "tool-turned", "tool-dropped"],
)
def test_a_lost_interrupt_still_stops_the_run_and_it_resumes(
    tmp_path: Path, kind: str, lose: Callable[[], None]
) -> None:
    root = _project(tmp_path)
    report = tmp_path / "report.json"
    before = len(steps(root))
    code = _run(root, report, _LoseTheStop(kind, lose))
    data = json.loads(report.read_text())
    assert code == 128 + signal.SIGTERM, data
    assert data["outcome"] == "interrupted" and data["resumable"] is True
    assert "SIGTERM" in data["detail"]
    new = steps(root)[before:]
    failed = [s for s in new if s.status == "failed"]
    assert failed == []  # the stop is no failure of the step it came in
    assert passing(root) == []
    # The resume finishes the job: a step left in flight runs again, none ran twice done.
    assert _run(root, tmp_path / "again.json", None) == 0
    assert passing(root) == ["F001"]


@pytest.fixture
def ctrl_c_reaches() -> Iterator[None]:
    """Ctrl-C as a terminal's foreground process gets it: Python's own SIGINT handler, also
    where this test process started with SIGINT ignored (a shell's background job, whose
    Ctrl-C goes to the foreground job only; `interruptible` rightly leaves that alone)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_reaches")
def test_a_lost_ctrl_c_still_stops_the_run(tmp_path: Path) -> None:
    root = _project(tmp_path)
    report = tmp_path / "report.json"
    hooks = _LoseTheStop("llm", lambda: _stop_inside_a_class_creation(signal.SIGINT))
    code = _run(root, report, hooks)
    data = json.loads(report.read_text())
    assert code == 128 + signal.SIGINT, data
    assert data["outcome"] == "interrupted" and "Ctrl-C" in data["detail"]
    assert _run(root, tmp_path / "again.json", None) == 0
    assert passing(root) == ["F001"]


def test_an_ignored_ctrl_c_stays_ignored() -> None:
    # A shell's background job starts with SIGINT ignored: the terminal's Ctrl-C is for the
    # foreground job, and a run in the background must not take it as its stop.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals.interruptible():
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            assert signals.stop_asked() is None
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


# The dropped interrupt is printed by Python as unraisable: that is the case under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("models", [None, scripted_in_process], ids=["gateway", "in-process"])
def test_a_stop_lost_before_the_model_s_thinking_ends_the_thinking(
    tmp_path: Path, models: Any
) -> None:
    # Lost before the call began, no interrupt ends the call's own wait: the model thinks a
    # minute here (a real one: until it answers). The wait ends on the stop asked instead,
    # through litellm's scripted provider and through the in-process scripted model alike.
    turns = good_turns(1)
    turns[0] = {**turns[0], "latency_s": 60}
    root = make_project(tmp_path / "p", count=1, sessions={1: turns})
    init(root)
    report = tmp_path / "report.json"
    code = _run(root, report, _LoseTheStop("llm", _stop_inside_a_finalizer), models)
    data = json.loads(report.read_text())
    assert code == 128 + signal.SIGTERM, data
    assert data["outcome"] == "interrupted" and data["resumable"] is True
    (llm,) = [s for s in steps(root) if s.kind == "llm" and s.session == 1]
    assert llm.status == "started"  # left in flight: the resume asks the model again
    assert llm.ended_at is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stop_lost_after_a_failure_is_judged_ends_the_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The call failed before any stop; the stop comes while the failure is judged, and is
    # dropped there: the back-off after it (a minute) ends on the stop asked, no resend.
    litellm = import_litellm()
    sent: list[int] = []

    def request() -> str:
        sent.append(1)
        raise litellm.RateLimitError(message="slow down", llm_provider="openai", model="m")

    retrier = Retrier(CallContext("m", "openai", "OPENAI_API_KEY"), base_s=60.0)
    judge = retrier._after_failure

    def judged_losing_the_stop(exc: Exception, start: float) -> float:
        _stop_inside_a_finalizer()
        return judge(exc, start)

    monkeypatch.setattr(retrier, "_after_failure", judged_losing_the_stop)
    with pytest.raises(signals.Terminated) as caught, signals.interruptible():
        retrier.call(request)
    assert caught.value.signum == signal.SIGTERM
    assert sent == [1]
