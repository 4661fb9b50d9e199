"""Another process that writes a journal, as `harness run` would: used by the TUI tests.

    python tests/tui/journal_writer.py ROOT STEPS [--slow-step S [--until FILE]]
        [--runner-failure]

Writes STEPS tool steps in session 1 of a new run, then (with --slow-step) one step whose
work takes S seconds (or ends earlier, once FILE exists), printing "slow started" before
it, then closes the session.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from harness.journal import Journal


def usage(tokens: int) -> dict[str, Any]:
    return {"ok": True, "usage": {"total_tokens": tokens, "cost_usd": tokens / 1e5}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("steps", type=int)
    parser.add_argument("--slow-step", type=float, default=0.0)
    parser.add_argument("--until", type=Path, help="the slow step ends once this file exists")
    parser.add_argument("--runner-failure", action="store_true")
    parser.add_argument("--sessions", type=int, default=1)
    args = parser.parse_args()

    journal = Journal.open(args.root / ".harness")
    run = journal.start_run()
    per_session = max(1, args.steps // args.sessions)
    for number in range(1, args.sessions + 1):
        session = run.session(number)
        for i in range(per_session):
            session.step("tool", f"write_file_{i}", {"i": i}, lambda: usage(100))
        if args.runner_failure:
            failure = {
                "kind": "oom",
                "message": "killed at the memory limit (512 MiB)",
                "suggestion": "request_resources memory_mb=1024",
                "limit": "memory_mb=512",
            }
            result = {"command": "pytest -q", "exit_code": None, "stdout": "", "stderr": "",
                      "duration_s": 2.0, "failure": failure}  # fmt: skip
            session.step("runner", "check:F001", {"command": "pytest -q"}, lambda r=result: r)
        if args.slow_step and number == args.sessions:

            def slow() -> dict[str, Any]:
                print("slow started", flush=True)
                deadline = time.monotonic() + args.slow_step
                while time.monotonic() < deadline:
                    if args.until is not None and args.until.exists():
                        break
                    time.sleep(0.02 if args.until is not None else deadline - time.monotonic())
                return usage(5)

            session.step("llm", "slow_call", {}, slow)
        session.close("passing", {"feature": f"F{number:03d}", "passing": number})
    print(f"done {run.id}", flush=True)
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
