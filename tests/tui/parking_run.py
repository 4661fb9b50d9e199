"""A stand-in for `harness run` that asks one question through `ask_human`, unattended.

    python tests/tui/parking_run.py ROOT [--wait] [--text TEXT]

First time: files the question and parks (exit 4, the run left unfinished). After the
answer: replays the same question (same key), journals the answer and finishes (exit 0).
With --wait it asks as an interactive run does: it stays alive, waiting for the answer.
Uses the real journal and the real escalation code; only the session loop is left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

from escalation.ask import ask_human
from escalation.questions import QuestionStore, Scores
from harness.errors import ExitCode
from harness.journal import Journal


def main() -> int:

    root = Path(sys.argv[1])
    wait = "--wait" in sys.argv
    text = sys.argv[sys.argv.index("--text") + 1] if "--text" in sys.argv else ""
    journal = Journal.open(root / ".harness")
    run_id = journal.unfinished_run()
    run = journal.resume_run(run_id) if run_id else journal.start_run()
    session = run.session(1)
    session.step("tool", "read_file", {"path": "SPEC.md"}, lambda: {"ok": True})
    with QuestionStore(root / ".harness", project_root=root) as store:
        result = ask_human(
            store,
            text or "Should the CLI print JSON or a table?",
            interactive=wait,
            choices=["JSON", "table"],
            scores=Scores(uncertainty=0.9, novelty=0.5, benefit=0.6, total=0.7),
            reason="score 0.70 above threshold 0.55",
            key=f"{run.id}/1/ask",
            run=run.id,
            session=1,
        )
    if result.parked:
        print(f"parked on {result.question.id}", flush=True)
        run.park("waiting_for_human", {"question": result.question.id})  # as `harness run`
        journal.release(run.id)
        journal.close()
        return int(ExitCode.WAITING)
    answer = result.question.answer
    session.step("human", "ask_human", {"q": result.question.id}, lambda: {"answer": answer})
    session.close("passing", {"feature": "F003", "passing": 3})
    run.finish("complete", {"answer": answer})
    journal.close()
    print(f"finished with answer {answer}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
