"""Many runs in one worker wait for their models on no thread of their own (fleet/drives.py).

A real `harness fleet worker` on the embedded fleet drives N runs of a scripted project
whose model answers after a few seconds. While all N are running (most of their time is
a model wait), the worker's threads stay within its fixed pools (drive hosts, the model
loop's executor, DBOS's executor, the journals' one flusher), far fewer than N; before,
each drive held a DBOS executor thread and each journal a flusher thread. Every run still
completes, each model call paid once (journal attempts), the journal verified.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from fleet.app import Client
from fleet.db import FleetDb
from fleet.drives import COMMAND_THREADS, HOSTS, LOOP_THREADS, STARTING, Drives
from fleet.place import fleet_place
from fleet.project import head_of
from fleet.submit import submit
from fleet.worker import DBOS_THREADS
from harness.journal.protocol import open_reader
from harness.model import LitellmModel
from runners.local import LocalRunner
from runners.waited import WaitedRunner
from tests.fleet.support import Fleet, all_in, scripted_project
from tests.harness.model_support import Cfg, user, write_script

T = TypeVar("T")

RUNS = 32
"""The fewest runs above the fixed pools' threads (31 over idle; assert kept): a thread per
run, all 32 at once (asserted), is over the bound whatever the pools use. Runs past that
repeated the same case (40 were 8 more runs of one project, ~0.4 CPU-s each)."""
SPARE = 3  # the model loop's own thread, the flusher, one more of DBOS's at a moment


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for {pid}")


class Counting:
    """The drives' waits, counting the model calls waiting at once and the back-offs."""

    def __init__(self, drives: Drives) -> None:
        self.drives = drives
        self.lock = threading.Lock()
        self.waiting = self.most = self.sleeps = 0

    def run(self, start: Callable[[], Awaitable[T]]) -> T:
        with self.lock:
            self.waiting += 1
            self.most = max(self.most, self.waiting)
        try:
            return self.drives.run(start)
        finally:
            with self.lock:
                self.waiting -= 1

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.drives.sleep(seconds)


def test_one_host_thread_holds_every_waiting_model_call(tmp_path: Path) -> None:
    """20 runs' model calls on ONE drive thread all wait at once (a blocking call would
    hold the thread: one at a time); a back-off parks too; each answer is its own."""
    name = write_script(
        tmp_path,
        {
            "latency_s": 0.5,
            "turns": [{"text": "done", "fault": "rate_limit", "retry_after": 0.1, "times": 1}],
        },
    )
    drives = Drives(hosts=1)
    waits = Counting(drives)
    try:
        models = [
            LitellmModel(Cfg(name=name), project_root=tmp_path, waits=waits) for _ in range(20)
        ]
        futures = [
            drives.start(lambda m=m, k=k: m.complete(user(f"run {k}"), []))
            for k, m in enumerate(models)
        ]
        answers = [f.result(timeout=300) for f in futures]
    finally:
        drives.close()
    assert waits.most == 20
    assert all(a.content == "done" for a in answers)
    assert sorted(a.attempts for a in answers) == [1] * 19 + [2]  # the fault fired once
    assert waits.sleeps == 1  # its back-off parked on the loop, not on the thread


def test_commands_of_runs_on_one_host_thread_run_at_once(tmp_path: Path) -> None:
    """Each of 6 runs on ONE drive thread starts a command that lasts until the test lets
    it end: all 6 are running at once (a command on its drive thread would hold it: the
    second would never start while the first waits), each result its own."""
    drives = Drives(hosts=1)
    runners = [WaitedRunner(LocalRunner(tmp_path), drives) for _ in range(6)]
    wait = "while [ ! -e go ]; do sleep 0.05; done"
    try:
        futures = [
            drives.start(lambda r=r, k=k: r.run(f"touch started-{k}; {wait}; echo {k}"))
            for k, r in enumerate(runners)
        ]
        deadline = time.monotonic() + 120  # liveness bound only
        while len(list(tmp_path.glob("started-*"))) < 6:
            assert time.monotonic() < deadline, "the commands did not all start"
            assert not any(f.done() for f in futures)
            time.sleep(0.05)
        (tmp_path / "go").touch()
        results = [f.result(timeout=120) for f in futures]
    finally:
        (tmp_path / "go").touch()
        drives.close()
    assert [(r.exit_code, r.stdout.strip()) for r in results] == [(0, str(k)) for k in range(6)]


def test_a_host_starts_waiting_drives_before_its_running_ones_go_on() -> None:
    """On ONE host, while it is busy: a running drive's model answer comes back (it would
    go on), then a preparation and a run's drive are started (as a worker taking over a
    lost peer's runs does). When the host is free, the run's drive starts first, then the
    preparation, then the running drive goes on: a run taken over reaches its first step
    without waiting behind the running runs' next steps (FIFO: it waited behind all)."""
    drives = Drives(hosts=1)
    order: list[str] = []
    hold, held, answer = threading.Event(), threading.Event(), threading.Event()

    def running() -> str:
        order.append("running")
        # parks until its "model" answers: once the host is held (a fixed sleep could end
        # before the test held the host, on a loaded machine: never woken while held)
        drives.run(lambda: asyncio.to_thread(answer.wait, 60))
        order.append("running goes on")
        return "running"

    def busy() -> str:
        held.set()
        hold.wait(60)
        return "busy"

    try:
        first = drives.start(running)
        deadline = time.monotonic() + 60  # liveness bound only
        while not order:
            assert time.monotonic() < deadline, "the running drive never started"
            time.sleep(0.01)
        held_future = drives.start(busy)
        assert held.wait(60)
        answer.set()
        while len(drives.hosts[0].ready) < 1:  # the running drive's wake-up is queued
            assert time.monotonic() < deadline, "the running drive was never woken"
            time.sleep(0.01)
        prepared = drives.start(lambda: order.append("prepare") or "prepare")
        started = drives.start(lambda: order.append("drive") or "drive", STARTING)
        hold.set()
        results = [f.result(timeout=60) for f in (first, held_future, prepared, started)]
    finally:
        hold.set()
        drives.close()
    assert results == ["running", "busy", "prepare", "drive"]
    assert order == ["running", "drive", "prepare", "running goes on"]


def test_a_drive_starts_on_whichever_host_is_free() -> None:
    """Two hosts: one held by a long blocking call (a clone), the other's drive parked on
    its model. A drive started now begins on the free host at once (before, it was given
    to the host with the fewest drives when started, a tie going to the held one, and
    waited there until the clone ended while the other host was idle)."""
    drives = Drives(hosts=2)
    hold, held, answer = threading.Event(), threading.Event(), threading.Event()
    parked = threading.Event()

    def busy() -> str:
        held.set()
        hold.wait(60)
        return "busy"

    def waiting() -> str:
        parked.set()
        drives.run(lambda: asyncio.to_thread(answer.wait, 60))
        return "waiting"

    try:
        first = drives.start(busy)
        assert held.wait(60)
        second = drives.start(waiting)
        assert parked.wait(60)
        started = drives.start(lambda: "started", STARTING)
        assert started.result(timeout=20) == "started"  # while the clone still holds a host
        assert not first.done()
        answer.set()
        hold.set()
        assert [first.result(timeout=60), second.result(timeout=60)] == ["busy", "waiting"]
    finally:
        hold.set()
        answer.set()
        drives.close()


@pytest.mark.parametrize("ends", ["returns", "raises"])
def test_a_drive_cancelled_while_it_runs_leaves_its_host_serving(ends: str) -> None:
    """A drive's future cancelled by whoever awaited it (DBOS cancels its tasks when a
    stopping worker's grace is up) while the drive still runs: when the drive ends, its
    host thread goes on serving the others (before, setting the cancelled future's result
    raised in the host thread and killed it, stranding every drive parked there)."""
    drives = Drives(hosts=1)
    release = threading.Event()

    def drive() -> str:
        release.wait(60)
        if ends == "raises":
            raise RuntimeError("the run stopped")
        return "first"

    try:
        first = drives.start(drive)
        assert first.cancel() or first.cancelled() or not first.running()
        release.set()
        second = drives.start(lambda: "second")
        assert second.result(timeout=60) == "second"  # liveness bound only
        assert drives.hosts[0].thread.is_alive()
    finally:
        release.set()
        drives.close()


@pytest.mark.slow
def test_runs_waiting_for_their_models_hold_no_thread_each(fleet: Fleet, tmp_path: Path) -> None:
    source = scripted_project(tmp_path / "source", count=1, latency_s=4.0)
    place = fleet_place(environ=fleet.env)
    db = FleetDb(place)
    worker = fleet.start_worker("w1", runs=RUNS)
    deadline = time.monotonic() + 600  # liveness bound only
    while not any(w.id == "w1" and w.state == "live" for w in db.all_workers()):
        assert worker.poll() is None and time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.2)
    idle = _threads(worker.pid)
    bound = idle + HOSTS + LOOP_THREADS + COMMAND_THREADS + DBOS_THREADS + SPARE
    assert bound < idle + RUNS  # else this test would not tell one thread per run apart
    client = Client(place)
    head = head_of(str(source))
    try:
        for k in range(RUNS):
            submit(db, lambda: client, f"t{k:02d}", str(source), base=head)
    finally:
        client.close()
    most_at_once = peak = 0
    while True:
        rows = db.all_runs()
        running = sum(r.state == "running" for r in rows)
        threads = _threads(worker.pid)
        most_at_once = max(most_at_once, running)
        if running == RUNS:
            peak = max(peak, threads)
        if all(r.state in ("complete", "failed", "budget") for r in rows):
            break
        assert worker.poll() is None and time.monotonic() < deadline, "the runs did not finish"
        time.sleep(0.2)
    db.close()
    print(f"{peak} threads at most with {RUNS} runs running ({idle} idle, bound {bound})")
    assert most_at_once == RUNS  # all of them at once in the one worker
    assert 0 < peak <= bound, f"{peak} threads with {RUNS} runs waiting ({idle} idle)"
    rows = fleet.wait(all_in(("complete",)), deadline_s=60)
    assert all(r["features"] == {"passing": 1, "total": 1} for r in rows)
    for k in range(RUNS):
        with open_reader(fleet.journal_of(f"t{k:02d}")) as reader:
            calls = [s for s in reader.steps(include_superseded=True) if s.kind == "llm"]
        assert calls and all(s.attempts == 1 for s in calls)
    fleet.verify("t00")
