"""Durable questions to a human, on the journal's backend (``escalation.question_db``):
``.harness/questions.db`` beside the SQLite journal, or the journal's PostgreSQL database.

Questions survive the process that asked them and can be answered from another one (the
CLI, the TUI, another machine). Ids are short ("q1", "q2", ...). The same tables keep the
situation history the matrix's novelty needs, so it survives processes too (what happened
after each decision is kept in the escalation record, ``escalation.record``). Every write
is one short transaction.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from escalation.inputs import stage_files
from escalation.question_db import open_questions
from harness.errors import ExitCode, HarnessError
from harness.journal.location import Location, as_location
from harness.redact import Redactor

Kind = Literal["question", "approval"]
Status = Literal["pending", "answered", "approved", "denied"]


APPROVED_ONLY = "approved only: "
"""How an approval's answer starts when only some of its items were approved (a JSON list
follows)."""


class QuestionError(HarnessError):
    """A question that does not exist, or cannot take this answer."""

    exit_code = ExitCode.INVALID


class Scores(BaseModel):
    """The matrix's scores that led to a question (all in [0, 1]), and what it weighed them
    with (enough to rebuild the decision when the asking step runs again)."""

    uncertainty: float = 0.0
    novelty: float = 0.0
    benefit: float = 0.0
    total: float = 0.0
    structured: float = 0.0
    """Uncertainty from the structured signals alone (hedging aside)."""
    threshold: float = 0.0
    weights: tuple[float, float, float] = (0.0, 0.0, 0.0)
    policy: str = "config"
    outcomes: int = 0


class Question(BaseModel):
    """One question to a human and, once given, its answer."""

    id: str
    kind: Kind
    key: str | None = None
    """The caller's idempotency key (a replayed ask finds its question by it)."""
    topic: str
    """The situation's kind, e.g. "ask_human" or "gate:command:git push" (for benefit)."""
    text: str
    context: str = ""
    choices: list[str] = Field(default_factory=list)
    scores: Scores | None = None
    reason: str = ""
    step_ref: str | None = None
    run: str | None = None
    session: int | None = None
    asked_at: datetime
    status: Status = "pending"
    answer: str | None = None
    choice: int | None = None
    """0-based index into ``choices`` when the human picked one."""
    files: list[str] = Field(default_factory=list)
    """Project-relative paths of the files the human attached."""
    deny_reason: str | None = None
    answered_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def approved_items(self) -> list[str]:
        """The items an approval approved: all its ``choices`` when approved whole, those
        picked with ``approve(only=...)``, none when it is denied or pending."""
        if self.status != "approved":
            return []
        if self.answer and self.answer.startswith(APPROVED_ONLY):
            picked: list[str] = json.loads(self.answer[len(APPROVED_ONLY) :])
            return picked
        return list(self.choices)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class QuestionStore:
    """The durable question queue and situation history of one project."""

    def __init__(
        self,
        where: Location | Path,
        *,
        project_root: Path | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        """The queue of the journal at ``where`` (a ``Location``; a folder: SQLite there)."""
        where = as_location(where)
        self.state_dir = where.state_dir
        self.project_root = project_root or self.state_dir.parent
        self.redactor = redactor or Redactor()
        """The run's secrets, hidden from every question and situation stored."""
        self._db = open_questions(where)
        self.path = self._db.where  # named in messages

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> QuestionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self) -> AbstractContextManager[None]:
        return self._db.transaction()

    # -- questions -------------------------------------------------------------------
    def ask(
        self,
        kind: Kind,
        text: str,
        context: str = "",
        choices: Sequence[str] = (),
        scores: Scores | None = None,
        step_ref: str | None = None,
        *,
        reason: str = "",
        topic: str = "ask_human",
        session: int | None = None,
        run: str | None = None,
        key: str | None = None,
    ) -> Question:
        """File a question; with a ``key`` already used, return that question instead.

        The run's secrets (API keys, its key variable, values of secret-looking environment
        variables) are redacted from the text, the context, the choices and the reason
        before they are stored.
        """
        hide = self.redactor.text
        row = (
            key,
            kind,
            topic,
            hide(text),
            hide(context),
            json.dumps([hide(choice) for choice in choices]),
            scores.model_dump_json() if scores else None,
            hide(reason),  # it may quote the agent's command or words
            step_ref,
            run,
            session,
            _now(),
        )
        with self._write():
            if key is not None:
                # Look first: a conflicting INSERT would still use up an AUTOINCREMENT id.
                found = self._db.execute("SELECT * FROM questions WHERE key=?", (key,))
                existing = found.fetchone()
                if existing is not None:
                    return _question(existing)
            rowid = self._db.insert(
                "INSERT INTO questions (key, kind, topic, text, context, choices, scores, "
                "reason, step_ref, run, session, asked_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
        return self.get(f"q{rowid}")

    def get(self, question_id: str) -> Question:
        """The question with this id; QuestionError if there is none."""
        row = self._db.execute(
            "SELECT * FROM questions WHERE id=?", (_number(question_id),)
        ).fetchone()
        if row is None:
            raise QuestionError(
                f"no question {question_id!r} in {self.path}; `harness questions` lists "
                "the pending ones"
            )
        return _question(row)

    def find_id(self, question_id: str) -> Question | None:
        """The question with this id, if there is one (None instead of an error)."""
        try:
            return self.get(question_id)
        except QuestionError:
            return None

    def find(self, key: str) -> Question | None:
        """The question filed under ``key``, if any."""
        row = self._db.execute("SELECT * FROM questions WHERE key=?", (key,)).fetchone()
        return None if row is None else _question(row)

    def pending(self) -> list[Question]:
        """Unanswered questions, oldest first."""
        rows = self._db.execute("SELECT * FROM questions WHERE status='pending' ORDER BY id")
        return [_question(row) for row in rows]

    def all(self) -> list[Question]:
        return [_question(row) for row in self._db.execute("SELECT * FROM questions ORDER BY id")]

    def count_asked(self, session: int | None, run: str | None = None) -> int:
        """Questions (not approvals) filed in one session: what the per-session cap counts."""
        same = self._db.same  # null-safe: a question outside a session counts there too
        sql = f"SELECT COUNT(*) AS n FROM questions WHERE kind='question' AND session {same} ?"
        args: list[Any] = [session]
        if run is not None:
            sql += " AND run=?"
            args.append(run)
        return int(self._db.execute(sql, args).fetchone()["n"])

    def answer(
        self,
        question_id: str,
        text: str | None = None,
        choice: int | None = None,
        files: Sequence[Path] = (),
    ) -> Question:
        """Answer a question with text, a 0-based choice, or both, plus attached files."""
        question = self._require(question_id, "question", "answer")
        if choice is not None:
            if not 0 <= choice < len(question.choices):
                raise QuestionError(
                    f"{question_id} has {len(question.choices)} choices; {choice + 1} is not one"
                )
            text = text or question.choices[choice]
        if not text and not files:
            raise QuestionError(f"an answer to {question_id} needs text, a choice or a file")
        staged = stage_files(self.project_root, question.id, [Path(f) for f in files])
        try:
            self._settle(
                question.id,
                "answered",
                before=staged.place,
                answer=text or "",
                choice=choice,
                files=json.dumps(staged.paths),
            )
        except BaseException:
            staged.discard()
            raise
        return self.get(question.id)

    def approve(self, question_id: str, only: Sequence[str] | None = None) -> Question:
        """Approve a gated action; for an approval that lists items (its ``choices``),
        ``only`` approves those items and denies the rest."""
        question = self._require(question_id, "approval", "approve")
        answer = "approved"
        if only is not None:
            if not question.choices:
                raise QuestionError(f"{question.id} approves one action; it has no items to pick")
            unknown = [item for item in only if item not in question.choices]
            if unknown or not only:
                raise QuestionError(
                    f"{question.id} lists {len(question.choices)} items "
                    f"({_span(question.choices)}); "
                    + (f"{', '.join(unknown[:5])} is not one of them" if unknown else "none picked")
                )
            picked = [item for item in question.choices if item in set(only)]
            if len(picked) < len(question.choices):
                answer = APPROVED_ONLY + json.dumps(picked)
        self._settle(question.id, "approved", answer=answer)
        return self.get(question.id)

    def deny(self, question_id: str, reason: str = "") -> Question:
        """Deny a gated action; ``reason`` reaches the model with the denial."""
        question = self._require(question_id, "approval", "deny")
        self._settle(question.id, "denied", answer="denied", deny_reason=reason)
        return self.get(question.id)

    def _require(self, question_id: str, kind: Kind, verb: str) -> Question:
        question = self.get(question_id)
        if question.kind != kind:
            other = "answer" if kind == "approval" else "approve/deny"
            raise QuestionError(
                f"{question.id} is {question.kind!r}: use `harness {other}`, not `harness {verb}`"
            )
        if not question.pending:
            raise QuestionError(_settled_message(question))
        return question

    def _settle(
        self,
        question_id: str,
        status: Status,
        before: Callable[[], None] | None = None,
        **values: Any,
    ) -> None:
        """Record the answer if the question is still pending; ``before`` runs under the lock."""
        columns = ", ".join(f"{name}=?" for name in values)
        with self._write():
            row = self._db.execute(
                "SELECT status FROM questions WHERE id=?", (_number(question_id),)
            ).fetchone()
            if row is None or row["status"] != "pending":
                cursor = None
            else:
                if before is not None:
                    before()
                cursor = self._db.execute(
                    f"UPDATE questions SET status=?, answered_at=?, {columns} "
                    "WHERE id=? AND status='pending'",
                    (status, _now(), *values.values(), _number(question_id)),
                )
        if cursor is None or cursor.rowcount == 0:
            raise QuestionError(_settled_message(self.get(question_id)))

    # -- situations (the matrix's history) ---------------------------------------------
    def add_situation(
        self,
        embedder: str,
        topic: str,
        text: str,
        vector: Sequence[float],
        *,
        session: int | None = None,
        run: str | None = None,
    ) -> int:
        """Keep one situation's embedding (its text redacted); returns its row id."""
        blob = array("f", vector).tobytes()
        with self._write():
            return self._db.insert(
                "INSERT INTO situations (embedder, topic, text, vector, run, session, "
                "created_at) VALUES (?,?,?,?,?,?,?)",
                (embedder, topic, self.redactor.text(text[:2000]), blob, run, session, _now()),
            )

    def situations_after(self, embedder: str, after_id: int) -> list[tuple[int, list[float]]]:
        """Embeddings of ``embedder`` with id > ``after_id``, oldest first."""
        rows = self._db.execute(
            "SELECT id, vector FROM situations WHERE embedder=? AND id>? ORDER BY id",
            (embedder, after_id),
        )
        return [(int(r["id"]), array("f", bytes(r["vector"])).tolist()) for r in rows]


def _span(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{items[0]}..{items[-1]}"


def pick(spec: str, items: Sequence[str]) -> list[str]:
    """The items ``spec`` names, in ``items`` order: ids and ranges (``F001..F010``, or
    ``F001-F010`` when both ends are items) separated by commas or spaces."""
    chosen: set[int] = set()
    index = {item: n for n, item in enumerate(items)}
    for token in spec.replace(",", " ").split():
        if token in index:
            chosen.add(index[token])
            continue
        ends = _range(token, index)
        if ends is None:
            raise QuestionError(
                f"{token!r} names no item ({len(items)} items: {_span(items)}); give ids or "
                "ranges such as F001..F010, separated by commas"
            )
        low, high = sorted(ends)
        chosen.update(range(low, high + 1))
    return [items[n] for n in sorted(chosen)]


def _range(token: str, index: dict[str, int]) -> tuple[int, int] | None:
    if ".." in token:
        first, _, last = token.partition("..")
        if first in index and last in index:
            return index[first], index[last]
        return None
    for at in range(1, len(token)):
        if token[at] == "-" and token[:at] in index and token[at + 1 :] in index:
            return index[token[:at]], index[token[at + 1 :]]
    return None


def _number(question_id: str) -> int:
    text = question_id.strip().lower().removeprefix("q")
    if not text.isdigit():
        raise QuestionError(f"{question_id!r} is not a question id (ids look like q1, q2)")
    return int(text)


def _settled_message(question: Question) -> str:
    when = question.answered_at.isoformat(timespec="seconds") if question.answered_at else "?"
    return (
        f"{question.id} was already {question.status} at {when}; an answer cannot be "
        "changed (ask a new question instead)"
    )


def _question(row: Any) -> Question:
    data = dict(row)
    data["id"] = f"q{data['id']}"
    data["choices"] = json.loads(data["choices"])
    data["files"] = json.loads(data["files"])
    data["scores"] = Scores.model_validate_json(data["scores"]) if data["scores"] else None
    data.pop("outcome_changed")  # no longer used: outcomes live in escalation.db
    return Question.model_validate(data)
