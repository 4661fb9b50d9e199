"""Pending questions from the question store, and storing the human's replies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import ArtifactError
from tui.model import QuestionView, Reply


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _scores(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if hasattr(raw, "model_dump"):
        raw = raw.model_dump()
    elif not isinstance(raw, dict):
        raw = {k: getattr(raw, k) for k in ("uncertainty", "novelty", "benefit", "total")}
    return {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}


def view(question: Any) -> QuestionView:
    """A QuestionView of a stored question."""
    context = _field(question, "context", "")
    if not isinstance(context, str):
        context = json.dumps(context, default=str)
    scores = _field(question, "scores")
    reason = _field(question, "reason", "") or _field(scores, "reason", "") or ""
    return QuestionView(
        id=str(_field(question, "id")),
        kind=str(_field(question, "kind", "question")),
        text=str(_field(question, "text", "")),
        context=context or "",
        choices=tuple(str(c) for c in (_field(question, "choices") or ())),
        scores=_scores(scores),
        reason=str(reason),
        step_ref=str(_field(question, "step_ref", "") or ""),
    )


class QuestionReader:
    """Reads pending questions from .harness/questions.db."""

    def __init__(self, state_dir: Path) -> None:
        from escalation.questions import QuestionStore

        self.store = QuestionStore(state_dir)

    def pending(self) -> list[QuestionView]:
        """Every pending question, oldest first."""
        return [view(q) for q in self.store.pending()]


def check_files(root: Path, files: tuple[str, ...]) -> list[str]:
    """The attached paths, checked to exist; relative ones are taken from the project."""
    checked = []
    for name in files:
        path = Path(name).expanduser()
        full = path if path.is_absolute() else root / path
        if not full.is_file():
            raise ArtifactError(name, "attached file", "no such file", "Check the path.")
        checked.append(str(full))
    return checked


def store_reply(root: Path, reply: Reply) -> str:
    """Store an answer, an approval or a denial; return what was done, in words."""
    from escalation.questions import QuestionStore

    store = QuestionStore(root / ".harness")
    short = reply.question_id[:8]
    if reply.action == "approve":
        store.approve(reply.question_id)
        return f"approved {short}"
    if reply.action == "deny":
        store.deny(reply.question_id, reply.text or "denied in the TUI")
        return f"denied {short}"
    files = check_files(root, reply.files)
    store.answer(reply.question_id, text=reply.text, choice=reply.choice, files=files)
    return f"answered {short}"
