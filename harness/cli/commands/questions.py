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

    approve = subparsers.add_parser(
        "approve",
        help="approve gated actions (ids, ranges, --all)",
        description="Approve one or more pending approvals: ids (q2), ranges (q2..q9), or "
        "--all. An approval that lists items (the adopted features awaiting re-verification) "
        "takes --only: those items are approved, the others denied.",
    )
    approve.add_argument("ids", nargs="*", metavar="ID", help="approval ids or ranges: q2 q5..q9")
    approve.add_argument("--all", action="store_true", help="every pending approval")
    approve.add_argument(
        "--only",
        metavar="ITEMS",
        help="approve only these items of one approval (F001..F010,F015); the rest are denied",
    )
    approve.add_argument("--json", action="store_true", help="print the question(s) as JSON")
    approve.set_defaults(func=run_approve)

    deny = subparsers.add_parser(
        "deny", help="deny gated actions (ids, ranges, --all)", description="Deny approvals."
    )
    deny.add_argument("ids", nargs="*", metavar="ID", help="approval ids or ranges: q2 q5..q9")
    deny.add_argument("--all", action="store_true", help="every pending approval")
    deny.add_argument("--reason", default="", help="why; the agent reads it")
    deny.add_argument("--json", action="store_true", help="print the question(s) as JSON")
    deny.set_defaults(func=run_deny)


def _store(args: argparse.Namespace, *, required: bool) -> QuestionStore | None:
    from escalation.question_db import questions_exist
    from escalation.questions import QuestionError, QuestionStore
    from harness.config import journal_location

    root = Path(args.project)
    where = journal_location(root.absolute())
    if not questions_exist(where):
        if not required:
            return None
        raise QuestionError(
            f"no questions in {root.resolve()}: nothing was ever asked there "
            f"(is {root} the project? use -C DIR)"
        )
    return QuestionStore(where, project_root=root)


def _done(args: argparse.Namespace, question: Question, line: str) -> int:
    """Print what was recorded: one line, or the question as JSON with ``--json``."""
    if getattr(args, "json", False):
        print(json.dumps(_answered_row(question), indent=2, default=str))
    else:
        print(for_terminal(line))
        for path in question.files:
            print(f"  file: {path}")
    return int(ExitCode.OK)


def _answered_row(question: Question) -> dict[str, Any]:
    row = _row(question)
    row.update(
        status=question.status,
        answer=question.answer,
        files=[str(p) for p in question.files],
        approved=question.approved_items() if question.kind == "approval" else None,
    )
    return row


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
        if q.kind == "approval" and q.choices:  # the items it approves, not choices
            items = ", ".join(for_terminal(c, one_line=True) for c in q.choices[:12])
            more = f" and {len(q.choices) - 12} more" if len(q.choices) > 12 else ""
            print(f"{'':<48}covers {len(q.choices)}: {items}{more}")
            continue
        for number, choice in enumerate(q.choices, start=1):
            print(f"{'':<48}[{number}] {for_terminal(choice, one_line=True)}")
    print(
        "\nAnswer: harness answer ID TEXT | --choice N [--file PATH]; "
        "approvals: harness approve ID... (q2..q9, --all; --only ITEMS) / "
        "harness deny ID... --reason TEXT"
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
    from escalation.questions import QuestionError, pick

    store = _store(args, required=True)
    assert store is not None
    with store:
        ids = _approval_ids(store, args)
        if args.only is not None and len(ids) != 1:
            raise QuestionError("--only picks the items of one approval: give one id")
        done = []
        for question_id in ids:
            only = None
            if args.only is not None:
                only = pick(args.only, store.get(question_id).choices)
            done.append(store.approve(question_id, only=only))
    return _done_all(args, done, "approved")


def run_deny(args: argparse.Namespace) -> int:
    store = _store(args, required=True)
    assert store is not None
    with store:
        done = [store.deny(q, args.reason) for q in _approval_ids(store, args)]
    return _done_all(args, done, "denied")


def _approval_ids(store: QuestionStore, args: argparse.Namespace) -> list[str]:
    """The ids ``args`` names (ranges expanded), or every pending approval with --all."""
    from escalation.questions import QuestionError

    if args.all:
        if args.ids:
            raise QuestionError("give ids or --all, not both")
        found = [q.id for q in store.pending() if q.kind == "approval"]
        if not found:
            raise QuestionError("no approval is pending (`harness questions` lists them)")
        return found
    if not args.ids:
        raise QuestionError("name the approval(s): ID, a range (q2..q9), or --all")
    ids: list[str] = []
    for token in args.ids:
        ids += [i for i in _expand(token) if i not in ids]
    return ids


def _expand(token: str) -> list[str]:
    from escalation.questions import QuestionError

    for separator in ("..", "-"):
        if separator in token:
            first, _, last = token.partition(separator)
            low, high = _qnumber(first), _qnumber(last)
            if low is None or high is None or low > high:
                raise QuestionError(f"{token!r} is not a range of ids (e.g. q2..q9)")
            return [f"q{n}" for n in range(low, high + 1)]
    return [token]


def _qnumber(text: str) -> int | None:
    digits = text.strip().lower().removeprefix("q")
    return int(digits) if digits.isdigit() else None


def _done_all(args: argparse.Namespace, done: list[Question], verb: str) -> int:
    """One line (or JSON object) per settled question; a list with --json for several."""
    if getattr(args, "json", False) and len(done) > 1:
        print(json.dumps([_answered_row(q) for q in done], indent=2, default=str))
        return int(ExitCode.OK)
    for question in done:
        picked = question.approved_items() if verb == "approved" and question.choices else []
        how = verb
        if picked and len(picked) < len(question.choices):
            how = f"approved {len(picked)} of {len(question.choices)} ({', '.join(picked[:8])}"
            how += ", ...)" if len(picked) > 8 else ")"
        _done(args, question, f"{question.id} {how}: {question.text}")
    return int(ExitCode.OK)
