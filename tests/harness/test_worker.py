"""The killable worker: a call answers, or is stopped at its deadline (the child killed and
the next call served by a new one); what the function raises comes back as its words; the
child has no environment, no project folder and a memory limit."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.worker import Overran, Worker, WorkerFailed

F = "tests.harness.worker_functions"
FUNCTIONS = tuple(
    f"{F}:{name}" for name in ("echo", "spin", "backtrack", "fail", "hog", "where", "die")
)


@pytest.fixture
def worker() -> Iterator[Worker]:
    made = Worker(FUNCTIONS, memory_mb=512)
    yield made
    made.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is not alive either
        return handle.read().split(") ")[1][0] != "Z"


def test_calls_answer_from_one_child(worker: Worker) -> None:
    assert worker.call(f"{F}:echo", {"value": {"a": [1, "ü"]}}, timeout=60) == {"a": [1, "ü"]}
    assert worker.call(f"{F}:echo", {"value": "x" * 300_000}, timeout=60) == "x" * 300_000
    assert worker.started == 1


@pytest.mark.parametrize(
    ("function", "args"),
    [("spin", {"seconds": 3600}), ("backtrack", {"line": "a" * 60 + "!"})],
    ids=["python-loop", "regex-in-c"],
)
def test_a_call_past_its_deadline_is_stopped_and_the_next_gets_a_new_child(
    worker: Worker, function: str, args: dict[str, object]
) -> None:
    first = worker.call(f"{F}:where", {}, timeout=60)["pid"]
    with pytest.raises(Overran, match=r"stopped after 0\.5 s"):
        worker.call(f"{F}:{function}", args, timeout=0.5)
    assert not _alive(first)  # killed, and reaped
    assert worker.call(f"{F}:echo", {"value": 1}, timeout=60) == 1
    assert worker.started == 2


def test_what_the_function_raises_comes_back_and_the_child_goes_on(worker: Worker) -> None:
    with pytest.raises(WorkerFailed, match="RecursionError: too deep"):
        worker.call(f"{F}:fail", {"message": "too deep"}, timeout=60)
    with pytest.raises(WorkerFailed, match="MemoryError"):  # past its 512 MiB
        worker.call(f"{F}:hog", {"megabytes": 2048}, timeout=60)
    assert worker.call(f"{F}:hog", {"megabytes": 16}, timeout=60) == 16 * 1024 * 1024
    assert worker.started == 1


def test_a_child_that_dies_is_said_and_replaced(worker: Worker) -> None:
    with pytest.raises(WorkerFailed, match="died \\(exit 3\\)"):
        worker.call(f"{F}:die", {}, timeout=60)
    assert worker.call(f"{F}:echo", {"value": 2}, timeout=60) == 2


def test_the_child_has_no_environment_no_project_and_only_its_functions(
    worker: Worker, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "sk-notForTheChild0123456789")
    monkeypatch.chdir(str(tmp_path))
    seen = worker.call(f"{F}:where", {}, timeout=60)
    assert seen["cwd"] == "/"
    assert not any("KEY" in name for name in seen["env"]), seen["env"]
    assert str(tmp_path) not in seen["path"] and "" not in seen["path"]
    with pytest.raises(ValueError, match="not one of the worker's functions"):
        worker.call("os:system", {"command": "true"}, timeout=60)


def test_close_ends_the_child(worker: Worker) -> None:
    pid = worker.call(f"{F}:where", {}, timeout=60)["pid"]
    worker.close()
    assert not _alive(pid)
