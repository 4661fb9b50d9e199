"""`harness status`: features passing/total, the last progress entry, the git head.

Reads the protocol files, git, and (read-only, when they exist) the journal's run rows and
the pending questions; no model or runner, so it starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.errors import ExitCode
from harness.terminal import lines_for_terminal

BAR_WIDTH = 30
PROOF_HELP = (
    "check: the harness ran its check; clean: on a clean checkout of the committed tree, in "
    "a fresh sandbox; fails-before: it failed where the session started; evaluator: an "
    "independent review passed it; human: a person approved it"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show features passing/total, the last session and the git head",
        description="Features passing/total with a progress bar, the last progress.md entry, "
        "the git head (short sha, dirty, detached), the newest run's state (running, parked "
        "waiting for a human or for something else, interrupted, finished) and the pending "
        "questions; for the passing features, the proofs their evidence holds ("
        + PROOF_HELP
        + "). Exit 2 when the project has no feature_list.json or a protocol file is invalid; "
        "exit 6 while its `harness init` still runs (or a `harness run` or `harness demo` "
        "sets it up).",
    )
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.project).absolute()
    if not (root / "feature_list.json").exists() and not (root / "feature_list.json").is_symlink():
        from harness.project_lock import already_running, live_run
        from initializer.in_flight import live_init, still_running

        pid = live_init(root)
        if pid is not None:  # an init in flight has not written its feature list yet
            print(f"harness: {still_running(root, pid)}", file=sys.stderr)
            return int(ExitCode.BUSY)
        pid = live_run(root)
        if pid is not None:  # a demo writing its files, a run finishing an init's setup
            print(f"harness: {already_running(root, pid)}", file=sys.stderr)
            return int(ExitCode.BUSY)
        print(
            f"harness: {root} has no feature_list.json, so it is not a harness project yet. "
            "Run `harness init --spec SPEC.md` there to start one, or `harness adopt` to "
            "upgrade an existing flat feature list.",
            file=sys.stderr,
        )
        return int(ExitCode.INVALID)
    status = collect(root)
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(lines_for_terminal(render(status)))
    return int(ExitCode.OK)


def collect(root: Path) -> dict[str, Any]:
    """The status as plain data (the ``--json`` output)."""
    from artifacts.feature_list import load_feature_list
    from artifacts.models import ADOPTED
    from artifacts.progress import read_progress

    features = load_feature_list(root).features
    entries = read_progress(root)
    last = entries[-1] if entries else None
    passing = sum(1 for f in features if f.passes)
    failing = sorted((f for f in features if not f.passes), key=lambda f: f.priority)
    return {
        "project": str(root),
        "features": {
            "total": len(features),
            "passing": passing,
            "adopted_unverified": sum(1 for f in features if f.state == ADOPTED),
            "next": failing[0].id if failing else None,
            "list": [
                {
                    "id": f.id,
                    "priority": f.priority,
                    "passes": f.passes,
                    "state": f.state,
                    "category": f.category,
                    "description": f.description,
                    "has_check": f.check is not None,
                    "proofs": f.evidence.proofs() if f.passes and f.evidence else [],
                }
                for f in features
            ],
        },
        "last_session": None
        if last is None
        else {
            "session": last.session,
            "date": last.date.isoformat(),
            "feature": last.feature,
            "outcome": last.outcome,
            "summary": last.summary,
            "next": last.next,
        },
        "sessions": len(entries),
        "git": git_status(root),
        "run": run_state(root),
        "questions": pending_questions(root),
    }


def run_state(root: Path) -> dict[str, Any]:
    """The newest run and its state (``harness.journal.state.RunState``): running (a live
    process holds its lock), waiting_for_human, waiting (provider, Docker, disk, database,
    a fix), interrupted (killed or Ctrl-C), or finished with its outcome."""
    from harness.config import journal_location
    from harness.journal.protocol import journal_exists, open_reader
    from harness.journal.state import newest_state

    where = journal_location(root)
    if not journal_exists(where):
        return {"state": "none"}
    with open_reader(where) as journal:
        state = newest_state(journal)
    if state is None:
        return {"state": "none"}
    found: dict[str, Any] = {"run_id": state.run_id, "kind": state.kind, "state": state.state}
    if state.state == "running":
        found["pid"] = state.pid
    else:
        found.update(outcome=state.outcome, detail=state.detail, words=state.words())
    if state.resumable or state.state == "waiting":
        found["resume"] = "harness run"
    return found


def pending_questions(root: Path) -> list[dict[str, Any]]:
    from escalation.question_db import questions_exist
    from harness.config import journal_location

    where = journal_location(root)
    if not questions_exist(where):
        return []
    from escalation.questions import QuestionStore

    with QuestionStore(where, project_root=root) as store:
        return [
            {"id": q.id, "kind": q.kind, "text": q.text, "choices": q.choices}
            for q in store.pending()
        ]


def git_status(root: Path) -> dict[str, Any]:
    """Head, dirty and detached flags; ``head`` None and an ``error`` when git cannot tell."""
    from dataclasses import asdict

    from artifacts.git import quick_status

    found = asdict(quick_status(root))
    if found["error"] is None:
        del found["error"]
    return found


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[#########.....]``: a text progress bar."""
    filled = round(width * done / total) if total else 0
    return "[" + "#" * filled + "." * (width - filled) + "]"


def render(status: dict[str, Any]) -> str:
    """The human-readable status."""
    features = status["features"]
    total, passing = features["total"], features["passing"]
    percent = f"{100 * passing / total:.0f}%" if total else "-"
    lines = [f"features  {bar(passing, total)} {passing}/{total} passing ({percent})"]
    unverified = features.get("adopted_unverified", 0)
    if unverified:
        lines.append(
            f"          {unverified} of them adopted, unverified: the next `harness run` "
            "re-verifies them (their checks, or one approval for those without)"
        )
    if features["next"]:
        lines.append(f"next      {features['next']} (highest-priority failing feature)")
    elif total:
        lines.append("next      - (every feature passes)")
    lines.extend(_proof_lines(features["list"]))
    last = status["last_session"]
    if last is None:
        lines.append("last      no session yet (progress.md has no entry)")
    else:
        lines.append(
            f"last      session {last['session']} ({last['date']}): {last['outcome']}, "
            f"feature {last['feature'] or '-'}"
        )
        lines.append(f"          next: {_one_line(last['next'])}")
    git = status["git"]
    if git["head"] is None:
        lines.append(f"git       {git.get('error') or 'no commits yet'}")
    else:
        flags = [
            "dirty" if git["dirty"] else "clean",
            "detached HEAD" if git["detached"] else f"on {git['branch']}",
        ]
        lines.append(f"git       {git['head'][:10]} ({', '.join(flags)}) {git['summary']}")
    lines.extend(_run_lines(status["run"], status["questions"]))
    return "\n".join(lines)


def _proof_lines(listed: list[dict[str, Any]]) -> list[str]:
    """The passing features grouped by the proofs their evidence holds."""
    groups: dict[str, list[str]] = {}
    for feature in listed:
        if feature["passes"]:
            key = ", ".join(feature["proofs"]) or "none"
            groups.setdefault(key, []).append(feature["id"])
    lines = []
    for index, (proofs, ids) in enumerate(sorted(groups.items(), key=lambda g: -len(g[0]))):
        label = "proofs" if index == 0 else ""
        lines.append(f"{label:<10}{_one_line(' '.join(ids), 40)}: {proofs}")
    return lines


def _run_lines(run: dict[str, Any], questions: list[dict[str, Any]]) -> list[str]:
    if run["state"] == "none":
        return ["run       none yet (`harness run` starts one)"]
    words = run.get("words") or f"running (pid {run.get('pid')})"
    lines = [f"run       {run['run_id']} ({run['kind']}): {words}"]
    if run.get("detail"):
        lines.append(f"          {_one_line(run['detail'])}")
    if run.get("resume"):
        lines.append("          `harness run` resumes it")
    for q in questions:
        lines.append(f"question  {q['id']} ({q['kind']}): {_one_line(q['text'], 80)}")
    if questions:
        lines.append(
            "          answer: `harness answer ID TEXT|--choice N`, `harness approve ID`, "
            "`harness deny ID`, or `harness tui`"
        )
    return lines


def _one_line(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
