"""Kill a 200-step session with SIGKILL at 20 random points; resume; nothing happens twice."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.journal import Journal
from harness.journal.verify import verify

WORKER = Path(__file__).with_name("crash_worker.py")
STEPS = 200
KILLS = 20


def spawn(state: Path, effects: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(state), str(effects), "--steps", str(STEPS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outcome(state: Path) -> list[tuple[Any, ...]]:
    """(seq, kind, name, status, output, error class) of every live step."""
    with Journal.open_readonly(state) as journal:
        result = []
        for row in journal.steps():
            detail = journal.step_detail(row.run_id, row.session, row.seq)
            assert detail is not None
            error = detail.error["class"] if detail.error else None
            result.append((row.seq, row.kind, row.name, row.status, detail.output, error))
        return result


def in_flight(state: Path) -> tuple[int | None, int]:
    """(the step the next process runs again, the last step that ended). Run again: the
    step left started without an end, or a failure that ends the record and was no
    decision (the worker's ValueError): the process may have died of what failed it, so
    the next one tries it once more (``StepDoor._replays_failure``)."""
    with Journal.open_readonly(state) as journal:
        rows = journal.steps()
    started = [r.seq for r in rows if r.status == "started"]
    assert len(started) <= 1, f"more than one step in flight: {started}"
    ended = [r.seq for r in rows if r.status in ("ended", "failed")]
    last = max(rows, key=lambda r: r.seq, default=None)
    if not started and last is not None and last.status == "failed":
        started = [last.seq]
    return (started[0] if started else None), max(ended, default=0)


@pytest.mark.slow
def test_sigkill_at_twenty_points_then_resume(tmp_path: Path) -> None:
    rng = random.Random(20240611)
    reference_state, reference_effects = tmp_path / "ref" / ".harness", tmp_path / "ref.txt"
    done = spawn(reference_state, reference_effects)
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0 and "finished" in out, err

    state, effects = tmp_path / "crash" / ".harness", tmp_path / "crash.txt"
    flights: Counter[int] = Counter()
    progress, kills, timed_kills = 0, 0, 0
    while kills < KILLS:
        proc = spawn(state, effects)
        assert proc.stdout is not None
        if kills % 7 == 6:  # during start-up (imports, opening the journal)
            time.sleep(rng.uniform(0.0, 0.15))
            timed_kills += 1
        elif kills % 4 == 3:  # a timed kill soon after start: replay or the first live steps
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.02))
            timed_kills += 1
        else:
            room = STEPS - progress - 1
            target = progress + rng.randint(1, max(1, 2 * room // (KILLS - kills + 1)))
            event = rng.choice(["did", "did", "done"])
            while True:
                line = proc.stdout.readline()
                assert line, f"worker ended before step {target}: {proc.stderr.read()}"  # type: ignore[union-attr]
                # At the target or the first such event past it: a recovered step (its
                # effect already in the world) prints no "did", so waiting for exactly
                # the target could outlive the worker.
                word, _, number = line.strip().partition(" ")
                if word == event and number.isdigit() and int(number) >= target:
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        if (state / "journal.db").exists():
            flying, progress = in_flight(state)
            if flying is not None:
                flights[flying] += 1
        assert progress < STEPS, "the session finished before all kills were made"

    final = spawn(state, effects)
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0 and "finished" in out, err

    counts = Counter(int(x) for x in effects.read_text().split())
    assert set(counts) == set(range(1, STEPS + 1))
    for seq in range(1, STEPS + 1):
        if seq % 10 == 0:
            assert counts[seq] == 1, f"non-idempotent step {seq} ran {counts[seq]} times"
        elif seq in flights:
            assert counts[seq] <= 1 + flights[seq], f"in-flight step {seq} ran {counts[seq]}"
            if flights[seq] == 1:
                assert counts[seq] <= 2
        else:
            assert counts[seq] == 1, f"completed step {seq} ran {counts[seq]} times"
    assert outcome(state) == outcome(reference_state)
    assert verify(state).ok
    assert timed_kills >= 4
    assert flights, "no kill landed inside a step: the test did not exercise in-flight steps"
    assert sum(counts.values()) > STEPS, "no step ran twice: kills never hit after an effect"
