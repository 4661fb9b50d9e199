"""`harness questions`, `answer`, `approve`, `deny`: the human's side of escalation.

Choices are numbered from 1 on the command line, as `harness questions` shows them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode
from harness.terminal import for_terminal

if TYPE_CHECKING:
    from escalation.questions import Question, QuestionStore


def register(subparsers: Any) -> None:
    listing = subparsers.add_parser(
        "questions",
        help="list the questions and approvals waiting for a human",
        description="List pending questions (oldest first). Answer with `harness answer`, "
        "`harness approve` or `harness deny`.",
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=run_questions)

    answer = subparsers.add_parser(
        "answer",
        help="answer a question (text, a choice, files)",
        description="Answer a pending question. Attached files are copied into "
        "human_inputs/<id>/ in the project; a .zip is unpacked there.",
    )
    answer.add_argument("id", help="the question id, e.g. q1")
    answer.add_argument("text", nargs="?", help="the answer text")
    answer.add_argument("--choice", type=int, metavar="N", help="pick choice N (from 1)")
    answer.add_argument(
        "--file", action="append", default=[], metavar="PATH", help="attach a file (repeatable)"
    )
    answer.add_argument("--json", action="store_true", help="print the question as JSON")
    answer.set_defaults(func=run_answer)

    approve = subparsers.add_parser("approve", help="approve a gated action")
    approve.add_argument("id", help="the approval id, e.g. q2")
    approve.add_argument("--json", action="store_true", help="print the question as JSON")
    approve.set_defaults(func=run_approve)

    deny = subparsers.add_parser("deny", help="deny a gated action")
    deny.add_argument("id", help="the approval id, e.g. q2")
    deny.add_argument("--reason", default="", help="why; the agent reads it")
    deny.add_argument("--json", action="store_true", help="print the question as JSON")
    deny.set_defaults(func=run_deny)


def _store(args: argparse.Namespace, *, required: bool) -> QuestionStore | None:
    from escalation.questions import QuestionError, QuestionStore

    root = Path(args.project)
    state = root / ".harness"
    if not (state / "questions.db").exists():
        if not required:
            return None
        raise QuestionError(
            f"no questions in {root.resolve()}: {state / 'questions.db'} does not exist "
            f"(is {root} the project? use -C DIR)"
        )
    return QuestionStore(state, project_root=root)


def _done(args: argparse.Namespace, question: Question, line: str) -> int:
    """Print what was recorded: one line, or the question as JSON with ``--json``."""
    if getattr(args, "json", False):
        row = _row(question)
        row.update(
            status=question.status,
            answer=question.answer,
            files=[str(p) for p in question.files],
        )
        print(json.dumps(row, indent=2, default=str))
    else:
        print(for_terminal(line))
        for path in question.files:
            print(f"  file: {path}")
    return int(ExitCode.OK)


def _row(question: Question) -> dict[str, Any]:
    return {
        "id": question.id,
        "kind": question.kind,
        "text": question.text,
        "context": question.context,
        "choices": question.choices,
        "scores": question.scores.model_dump() if question.scores else None,
        "reason": question.reason,
        "asked_at": question.asked_at.isoformat(),
        "session": question.session,
        "run": question.run,
    }


def run_questions(args: argparse.Namespace) -> int:
    store = _store(args, required=False)
    pending = [] if store is None else store.pending()
    if store is not None:
        store.close()
    if args.json:
        print(json.dumps([_row(q) for q in pending], indent=2))
        return int(ExitCode.OK)
    if not pending:
        print("No questions waiting.")
        return int(ExitCode.OK)
    print(f"{'ID':<5} {'KIND':<9} {'ASKED (UTC)':<17} {'SESSION':>7} {'SCORE':>5}  TEXT")
    for q in pending:
        asked = q.asked_at.strftime("%Y-%m-%d %H:%M")
        score = f"{q.scores.total:.2f}" if q.scores else "-"
        session = "-" if q.session is None else str(q.session)
        print(f"{q.id:<5} {q.kind:<9} {asked:<17} {session:>7} {score:>5}  {for_terminal(q.text)}")
        for number, choice in enumerate(q.choices, start=1):
            print(f"{'':<48}[{number}] {for_terminal(choice, one_line=True)}")
    print(
        "\nAnswer: harness answer ID TEXT | --choice N [--file PATH]; "
        "approvals: harness approve ID / harness deny ID --reason TEXT"
    )
    return int(ExitCode.OK)


def run_answer(args: argparse.Namespace) -> int:
    from escalation.questions import QuestionError

    if args.text is None and args.choice is None and not args.file:
        raise QuestionError("give the answer: TEXT, --choice N or --file PATH")
    store = _store(args, required=True)
    assert store is not None
    with store:
        choice = None if args.choice is None else args.choice - 1
        if choice is not None and choice < 0:
            raise QuestionError(f"--choice counts from 1; {args.choice} is not a choice")
        question = store.answer(
            args.id, text=args.text, choice=choice, files=[Path(f) for f in args.file]
        )
    return _done(args, question, f"{question.id} answered: {question.answer}")


def run_approve(args: argparse.Namespace) -> int:
    store = _store(args, required=True)
    assert store is not None
    with store:
        question = store.approve(args.id)
    return _done(args, question, f"{question.id} approved: {question.text}")


def run_deny(args: argparse.Namespace) -> int:
    store = _store(args, required=True)
    assert store is not None
    with store:
        question = store.deny(args.id, args.reason)
    return _done(args, question, f"{question.id} denied: {question.text}")
