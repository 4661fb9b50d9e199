"""Pending questions (read-only), and storing the human's replies through the store.

Reading uses its own read-only SQLite connection to ``.harness/questions.db`` (WAL: it
never blocks the run that asks); it runs on every change of that file. Writing goes through
`escalation.questions.QuestionStore`, the API `harness answer/approve/deny` use, so an
answer from the TUI is the same row, with the same checks, as one from the CLI.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalation.questions import QuestionStore
from harness.config import journal_location
from tui.model import QuestionView, Reply

if TYPE_CHECKING:
    from harness.journal.location import Location

SCORE_NAMES = ("uncertainty", "novelty", "benefit", "total")


def _scores(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    data: Any = json.loads(text)
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def view(row: sqlite3.Row) -> QuestionView:
    """A QuestionView of one row of the questions table."""
    return QuestionView(
        id=f"q{row['id']}",
        kind=str(row["kind"]),
        text=str(row["text"]),
        context=str(row["context"] or ""),
        choices=tuple(str(c) for c in json.loads(row["choices"] or "[]")),
        scores=_scores(row["scores"]),
        reason=str(row["reason"] or ""),
        step_ref=str(row["step_ref"] or ""),
        run=str(row["run"] or ""),
    )


class QuestionReader:
    """Reads pending questions: from .harness/questions.db read-only (SQLite), or through
    the question store on the journal's database."""

    def __init__(self, where: Location) -> None:
        self.store: Any = None
        if where.backend != "sqlite":
            self.store = QuestionStore(where)
            return
        path = (where.state_dir / "questions.db").resolve()
        self.db = sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA query_only=ON")

    def pending(self) -> list[QuestionView]:
        """Every pending question, oldest first."""
        if self.store is not None:
            return [_question_view(q) for q in self.store.pending()]
        try:
            rows = self.db.execute("SELECT * FROM questions WHERE status='pending' ORDER BY id")
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):  # the asker has not created it yet
                return []
            raise
        return [view(row) for row in rows]

    def close(self) -> None:
        """Close the connection."""
        (self.store or self.db).close()


def _question_view(question: Any) -> QuestionView:
    """A QuestionView of an ``escalation.questions.Question``."""
    scores = question.scores.model_dump() if question.scores else {}
    return QuestionView(
        id=question.id, kind=question.kind, text=question.text, context=question.context,
        choices=tuple(question.choices), scores=scores, reason=question.reason,
        step_ref=question.step_ref or "",
    )  # fmt: skip


def attached(root: Path, files: tuple[str, ...]) -> list[Path]:
    """The attached paths; relative ones are taken from the project folder."""
    paths = []
    for name in files:
        path = Path(name).expanduser()
        paths.append(path if path.is_absolute() else root / path)
    return paths


def store_reply(root: Path, reply: Reply) -> str:
    """Store an answer, an approval or a denial; return what was done, in words."""

    with QuestionStore(journal_location(root), project_root=root) as store:
        if reply.action == "approve":
            store.approve(reply.question_id)
            return f"approved {reply.question_id}"
        if reply.action == "deny":
            store.deny(reply.question_id, reply.text or "denied in the TUI")
            return f"denied {reply.question_id}"
        store.answer(
            reply.question_id,
            text=reply.text,
            choice=reply.choice,
            files=attached(root, reply.files),
        )
        return f"answered {reply.question_id}"
