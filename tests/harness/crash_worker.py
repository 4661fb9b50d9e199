"""A scripted 200-step session with counted side effects, for the crash test and the bench.

Usage: python crash_worker.py STATE_DIR EFFECTS_FILE [--steps N] [--sleep-ms X]
       [--die-at N] [--first-new FILE]

Every execution of a step's work appends ``<seq>\\n`` to EFFECTS_FILE (one atomic write),
prints ``did <seq>``, sleeps a little, and returns an output derived only from the step
number. Every 10th step is not idempotent and recovers by reading EFFECTS_FILE; every 37th
fails; every 50th returns a large output (a blob). After each step it prints ``done <seq>``.
``--die-at N`` SIGKILLs itself inside step N's work; ``--first-new`` records the time when
the first step's work runs live.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from harness.journal import Journal


def output_of(seq: int) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": seq, "sq": seq * seq}
    out["tag"] = hashlib.sha256(str(seq).encode()).hexdigest()[:12]
    if seq % 50 == 0:
        out["blob"] = f"{seq}:" + "b" * 20_000
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.add_argument("effects")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--sleep-ms", type=float, default=2.0)
    parser.add_argument("--die-at", type=int, default=0)
    parser.add_argument("--first-new", default="")
    parser.add_argument("--synchronous", default="NORMAL")
    args = parser.parse_args()
    effects = Path(args.effects)
    rng = random.Random()
    first_new_written = False

    def say(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def work(seq: int) -> dict[str, Any]:
        nonlocal first_new_written
        if args.first_new and not first_new_written:
            Path(args.first_new).write_text(repr(time.time()))
            first_new_written = True
        if seq == args.die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        fd = os.open(effects, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{seq}\n".encode())
        finally:
            os.close(fd)
        say(f"did {seq}")
        if args.sleep_ms:
            time.sleep(rng.random() * args.sleep_ms / 1000)
        if seq % 37 == 0:
            raise ValueError(f"step {seq} fails on purpose")
        return output_of(seq)

    def recover(seq: int) -> dict[str, Any] | None:
        done = effects.exists() and str(seq) in effects.read_text().split()
        return output_of(seq) if done else None

    with Journal.open(Path(args.state), synchronous=args.synchronous) as journal:
        run_id = journal.unfinished_run()
        run = journal.resume_run(run_id) if run_id else journal.start_run()
        session = run.session(1)
        say("ready")
        for seq in range(1, args.steps + 1):
            non_idempotent = seq % 10 == 0
            # A failed step is recorded; replay raises it again and the session goes on.
            with contextlib.suppress(Exception):
                session.step(
                    "git" if non_idempotent else "tool",
                    f"step-{seq}",
                    {"seq": seq},
                    lambda seq=seq: work(seq),
                    idempotent=not non_idempotent,
                    recover=(lambda seq=seq: recover(seq)) if non_idempotent else None,
                )
            say(f"done {seq}")
        session.close("done", {"steps": args.steps})
        run.finish("complete", {})
    say("finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
