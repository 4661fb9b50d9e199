"""`harness fleet`: many runs on workers (DBOS on PostgreSQL, or the embedded default).

The fleet's database is ``--url URL`` or ``HARNESS_FLEET_URL`` (PostgreSQL); without one,
the embedded default under the user's state folder (SQLite, one machine). Commands:
submit, worker, status, runs, questions, answer, approve, deny, cancel, recover.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
from typing import TYPE_CHECKING, Any

from harness.errors import ExitCode

if TYPE_CHECKING:
    from fleet.db import FleetDb, QuestionRow, RunRow
    from fleet.place import Place

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fleet",
        help="many runs on workers: submit, worker, status, questions, answer, cancel, recover",
        description="Runs driven by worker processes (DBOS), on PostgreSQL (--url or "
        "HARNESS_FLEET_URL) or, without a URL, the embedded fleet of this machine (SQLite "
        "under the state folder).",
    )
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="the fleet's PostgreSQL URL (default: HARNESS_FLEET_URL, else the embedded fleet)",
    )
    parser.add_argument("--url", default=None, metavar="URL", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="fleet_command", metavar="COMMAND")

    submit = commands.add_parser(
        "submit", parents=[url], help="submit a project: prints the run id"
    )
    submit.add_argument("project", metavar="PATH_OR_GIT_URL")
    submit.add_argument("--model", metavar="M", help="override [model] name for this run")
    submit.add_argument("--id", dest="run_id", metavar="RUN", help="the run id (idempotent)")
    submit.add_argument(
        "--class",
        dest="klass",
        default="default",
        metavar="C",
        help="the resource class (queue) of the run (default: default)",
    )
    submit.set_defaults(func=run_submit)

    worker = commands.add_parser("worker", parents=[url], help="drive runs until stopped")
    worker.add_argument(
        "--runs",
        type=int,
        default=100,
        metavar="N",
        help="runs driven at once by this worker (default 100)",
    )
    worker.add_argument(
        "--class",
        dest="klass",
        default="default",
        metavar="C",
        help="the resource class whose queue it takes runs from",
    )
    for field, kind, unit in (
        ("memory-mb", int, "MiB of memory"),
        ("cpus", float, "CPU cores"),
        ("timeout-s", float, "seconds per command"),
        ("gpus", int, "GPUs"),
    ):
        worker.add_argument(
            f"--max-{field}",
            type=kind,
            default=None,
            metavar="N",
            help=f"the most {unit} this machine gives a command of its class: a run granted "
            "more moves to a bigger class (sets the class's maxima for the fleet)",
        )
    worker.add_argument(
        "--id",
        dest="worker_id",
        metavar="W",
        help="the worker id (default <host>-<k>, the machine's first free slot)",
    )
    worker.add_argument(
        "--connections",
        type=int,
        default=None,
        metavar="N",
        help="PostgreSQL connections its runs' journals and questions share, plus one for "
        "their run locks (default 10; a PostgreSQL fleet only)",
    )
    worker.add_argument(
        "--lost-after",
        type=float,
        default=None,
        metavar="S",
        help="a peer silent this long is lost: its runs are taken over (6 s)",
    )
    worker.add_argument(
        "--publish-retry",
        type=float,
        default=None,
        metavar="S",
        help="a failed push of a run's branch is tried again after S seconds, the wait "
        "doubling, 5 times in all before the run is failed (2 s)",
    )
    worker.add_argument(
        "--grace",
        type=int,
        default=None,
        metavar="S",
        help="on SIGTERM, how long steps in flight may take (600 s)",
    )
    worker.set_defaults(func=run_worker)

    for name, helptext in (("status", "the fleet's runs and workers"), ("runs", "every run")):
        listing = commands.add_parser(name, parents=[url], help=helptext)
        listing.add_argument(
            "--json", action="store_true", help="one JSON object per run, per line"
        )
        listing.set_defaults(func=run_status, only_runs=name == "runs")

    questions = commands.add_parser("questions", parents=[url], help="questions of parked runs")
    questions.add_argument("run", nargs="?", help="only this run's")
    questions.add_argument("--json", action="store_true", help="one JSON object per question")
    questions.set_defaults(func=run_questions)

    answer = commands.add_parser("answer", parents=[url], help="answer a run's question")
    answer.add_argument("ref", metavar="RUN/QID", help="RUN/QID as `questions` shows (or RUN QID)")
    answer.add_argument("rest", nargs="*", metavar="TEXT", help="the answer")
    answer.add_argument("--choice", type=int, metavar="N", help="pick choice N (from 1)")
    answer.set_defaults(func=run_answer, verb="answered")

    for verb, status in (("approve", "approved"), ("deny", "denied")):
        gate = commands.add_parser(verb, parents=[url], help=f"{verb} a run's gated action")
        gate.add_argument("ref", metavar="RUN/QID")
        gate.add_argument("rest", nargs="*", metavar="QID")
        if verb == "deny":
            gate.add_argument("--reason", default="", help="why; the agent reads it")
        gate.set_defaults(func=run_answer, verb=status, choice=None)

    cancel = commands.add_parser("cancel", parents=[url], help="cancel a run")
    cancel.add_argument("run")
    cancel.set_defaults(func=run_cancel)

    recover = commands.add_parser(
        "recover", parents=[url], help="give a lost worker's runs to the live workers (DBOS)"
    )
    recover.add_argument("worker", help="the lost worker's id")
    recover.set_defaults(func=run_recover)
    parser.set_defaults(func=_help(parser))


def _help(parser: argparse.ArgumentParser) -> Any:
    def show(_args: argparse.Namespace) -> int:
        parser.print_help()
        return int(ExitCode.INVALID)

    return show


def _place(args: argparse.Namespace) -> Place:
    from fleet.place import fleet_place

    return fleet_place(getattr(args, "url", None))


def _db(args: argparse.Namespace) -> tuple[Place, FleetDb]:
    from fleet.db import FleetDb

    place = _place(args)
    return place, FleetDb(place)


def run_submit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fleet.app import Client
    from fleet.place import FleetError
    from fleet.project import source_of
    from fleet.submit import submit

    run_id = args.run_id or f"r-{secrets.token_hex(5)}"
    if not RUN_ID.match(run_id):
        raise FleetError(
            f"--id {run_id!r}: a run id is 1-64 letters, digits, '.', '_' or '-' (it names "
            "the run's branch and folder)"
        )
    source = source_of(args.project)
    local = "://" not in source and not source.startswith("git@")
    if local and not (Path(source) / ".git").exists():
        raise FleetError(
            f"{args.project}: not a git repository: submit a project folder with a git "
            "repository (`harness init` makes one) or a git URL"
        )
    place, db = _db(args)
    clients: list[Client] = []

    def client() -> Client:
        if not clients:
            clients.append(Client(place))
        return clients[0]

    try:
        submit(db, client, run_id, source, model=args.model or "", klass=args.klass)
    finally:
        for made in clients:
            made.close()
        db.close()
    print(run_id)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    import os

    from fleet.drive import PUBLISH_RETRY_S
    from fleet.place import FleetError
    from fleet.worker import CONNECTIONS, GRACE_S, LOST_AFTER_S, default_id, serve

    if args.runs < 1:
        raise FleetError(f"--runs {args.runs}: a worker drives at least one run")
    if args.connections is not None and args.connections < 1:
        raise FleetError(f"--connections {args.connections}: its runs need at least one")
    for key in ("memory_mb", "cpus", "timeout_s", "gpus"):
        value = getattr(args, f"max_{key}")
        if value is not None and value < (0 if key == "gpus" else 1e-9):
            flag = "--max-" + key.replace("_", "-")
            raise FleetError(f"{flag} {value}: a class's maximum is a positive number")
    place = _place(args)
    held = None
    worker_id = args.worker_id
    if not worker_id:
        worker_id, held = default_id(place)
    elif not RUN_ID.match(worker_id):
        raise FleetError(f"--id {worker_id!r}: a worker id is 1-64 letters, digits, '.', '_', '-'")
    try:
        return serve(
            place,
            worker_id=worker_id,
            klass=args.klass,
            runs=args.runs,
            environ=os.environ,
            lost_after_s=args.lost_after or LOST_AFTER_S,
            connections=args.connections or CONNECTIONS,
            grace_s=args.grace if args.grace is not None else GRACE_S,
            publish_retry_s=(
                args.publish_retry if args.publish_retry is not None else PUBLISH_RETRY_S
            ),
            hooks=getattr(args, "hooks", None),
            models=getattr(args, "models", None),
            maxima={
                key: getattr(args, f"max_{key}")
                for key in ("memory_mb", "cpus", "timeout_s", "gpus")
                if getattr(args, f"max_{key}") is not None
            },
        )
    finally:
        if held is not None:
            held.close()


def run_status(args: argparse.Namespace) -> int:
    from fleet.app import app_version

    place, db = _db(args)
    try:
        rows = db.all_runs()
        workers = db.all_workers()
    finally:
        db.close()
    version = app_version()
    if args.json:
        for row in rows:
            print(json.dumps(row.public(version)))
        return 0
    if not args.only_runs:
        print(f"fleet: {place.describe()}; this harness's version: {version}")
        for w in workers:
            print(
                f"worker {w.id}: {w.state}, class {w.klass}, up to {w.runs} runs, "
                f"version {w.version}, pid {w.pid} on {w.host}"
            )
    for row in rows:
        print(_line(row, version))
    if not rows:
        print("no runs yet: `harness fleet submit PATH`")
    return 0


def _line(row: RunRow, version: str) -> str:
    from harness.terminal import for_terminal

    where = f" on {row.worker}" if row.worker else ""
    stranded = ""
    if row.version != version and row.state not in ("complete", "failed", "budget", "cancelled"):
        stranded = f" [version {row.version}: needs a worker of that version]"
    detail = f": {for_terminal(row.detail)[:120]}" if row.detail else ""
    return (
        f"{row.id}  {row.state}{where}  {row.passing}/{row.total} features  "
        f"${row.cost_usd:.4f}  {row.project}{stranded}{detail}"
    )


def run_questions(args: argparse.Namespace) -> int:
    from harness.terminal import for_terminal

    db = _db(args)[1]
    try:
        found = db.questions_of(args.run, status="pending")
    finally:
        db.close()
    for q in found:
        if args.json:
            print(
                json.dumps(
                    {
                        "id": f"{q.run}/{q.qid}",
                        "run": q.run,
                        "qid": q.qid,
                        "kind": q.kind,
                        "text": q.text,
                        "choices": q.choices,
                        "asked_at": q.asked_at,
                        "context": q.context,
                        "scores": q.scores,
                        "reason": q.reason,
                    }
                )
            )
        else:
            choices = "".join(f"\n    {i}. {for_terminal(c)}" for i, c in enumerate(q.choices, 1))
            print(f"{q.run}/{q.qid} ({q.kind}): {for_terminal(q.text)}{choices}")
            for line in _question_detail(q):
                print(f"    {line}")
    if not found and not args.json:
        print("no pending questions")
    return 0


SCORE_NAMES = ("uncertainty", "novelty", "benefit", "total")


def _question_detail(q: QuestionRow) -> list[str]:
    """What the person answering needs beyond the question: the agent's context, the
    escalation matrix's scores and why it asked (each line only when recorded)."""
    from harness.terminal import for_terminal

    lines = []
    if q.context:
        context = for_terminal(q.context, one_line=True)
        lines.append(f"context: {context[:300]}{'...' if len(context) > 300 else ''}")
    if q.scores:
        shown = [f"{n} {float(q.scores[n]):.2f}" for n in SCORE_NAMES if n in q.scores]
        threshold = q.scores.get("threshold")
        if isinstance(threshold, int | float) and threshold:
            shown.append(f"(asks above {float(threshold):.2f})")
        lines.append("scores: " + "  ".join(shown))
    if q.reason:
        lines.append(f"why asked: {for_terminal(q.reason, one_line=True)}")
    return lines


def _ref(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    from fleet.place import FleetError

    run, sep, qid = args.ref.partition("/")
    rest = list(args.rest)
    if not sep:
        if not rest:
            raise FleetError(
                f"{args.ref!r}: name the question as RUN/QID (see `harness fleet questions`)"
            )
        qid = rest.pop(0)
    return run, qid, rest


def run_answer(args: argparse.Namespace) -> int:
    from fleet.inbox import settle

    run_id, qid, rest = _ref(args)
    text = " ".join(rest) or None
    if args.verb == "denied":
        text = args.reason or text or ""
    choice = None if args.choice is None else args.choice - 1
    place, db = _db(args)
    try:
        done = settle(place, db, run_id, qid, args.verb, text, choice)
    finally:
        db.close()
    if done.already is not None:
        print(f"{done.ref} was settled already ({done.already})", file=sys.stderr)
    print(done.said())
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    from fleet.app import Client
    from fleet.db import FINAL
    from fleet.place import FleetError

    place, db = _db(args)
    try:
        row = db.run(args.run)
        if row is None:
            raise FleetError(f"no run {args.run} in {place.describe()}")
        if row.state in FINAL or row.state == "publishing":  # ended: its branch is pushed
            print(f"{args.run} is {row.state} already")
            return 0
        if not db.update_run(
            args.run,
            state="cancelled",
            detail="cancelled by the operator",
            only_if=("queued", "running", "parked"),
        ):  # it ended meanwhile: its workflow is left to publish it
            now = db.run(args.run)
            print(f"{args.run} is {now.state if now else 'gone'} already")
            return 0
        client = Client(place)
        try:
            client.cancel(args.run, row.drive)
        finally:
            client.close()
    finally:
        db.close()
    print(f"{args.run} cancelled (a drive in flight stops at its next step)")
    return 0


def run_recover(args: argparse.Namespace) -> int:
    from fleet.app import Client

    place, db = _db(args)
    try:
        db.set_worker_state(args.worker, "lost")
        client = Client(place)
        try:
            moved = client.recover(args.worker)
        finally:
            client.close()
        for wid in moved:
            db.update_run(
                wid.split("/drive/")[0], state="queued", worker=None, only_if=("running",)
            )
    finally:
        db.close()
    print(
        f"{len(moved)} drive(s) of {args.worker} back on their queues"
        + "".join(f"\n  {w}" for w in moved)
    )
    return 0
