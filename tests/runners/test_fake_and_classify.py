"""The scripted runner for other parts' tests, and the failure texts the agent reads."""

from __future__ import annotations

import signal

from runners import CommandResult, Runner, ScriptedRunner, classify
from runners.output import TailBuffer


def test_scripted_runner_plays_results_in_order_and_records_calls() -> None:
    runner = ScriptedRunner().on(r"pytest", classify.oom(64), 0)
    assert isinstance(runner, Runner)
    first = runner.run("pytest -q", phase="agent")
    second = runner.run("pytest -q")
    third = runner.run("pytest -q")
    other = runner.run("ls")
    assert first.failure is not None and first.failure.kind == "oom"
    assert second.exit_code == 0 and second.failure is None
    assert third.exit_code == 0  # the last result repeats
    assert other.exit_code == 0 and other.command == "ls"
    assert [call.command for call in runner.calls] == ["pytest -q"] * 3 + ["ls"]


def test_scripted_runner_accepts_whole_results() -> None:
    scripted = CommandResult(command="x", exit_code=1, stdout="boom", stderr="", duration_s=0.1)
    runner = ScriptedRunner().on("make", scripted)
    result = runner.run("make test")
    assert (result.command, result.exit_code, result.stdout) == ("make test", 1, "boom")


def test_failures_name_the_limit_and_say_what_to_do() -> None:
    oom = classify.oom(64, 63.9)
    assert "64 MB" in oom.message and "63.9" in oom.message
    assert oom.suggestion.startswith("call request_resources with memory_mb >= 128")
    late = classify.timeout(30)
    assert "30 s" in late.message and "timeout_s >= 60" in late.suggestion
    gone = classify.preempted("gone", 3)
    assert gone.kind == "gone" and "3 attempts" in gone.message


def test_local_classification() -> None:
    assert classify.local_failure(1, "boom", timed_out=False, memory_mb=64, timeout_s=5) is None
    oom = classify.local_failure(1, "MemoryError\n", timed_out=False, memory_mb=64, timeout_s=5)
    assert oom is not None and oom.kind == "oom"
    cpu = classify.local_failure(-signal.SIGXCPU, "", timed_out=False, memory_mb=64, timeout_s=5)
    assert cpu is not None and cpu.kind == "timeout" and "CPU" in cpu.message


def test_tail_buffer_keeps_the_end() -> None:
    buffer = TailBuffer(10)
    for i in range(100):
        buffer.write(f"{i:03d}".encode())
    first, kept = buffer.text().split("\n")
    assert kept == "6097098099"
    assert "290 earlier bytes cut" in first
