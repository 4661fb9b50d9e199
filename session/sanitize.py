"""What the model wrote, made safe to keep in progress.md (which the next prompt reads back).

The model is untrusted: its words go into the handoff chart only as one bounded line of
plain text, so it cannot forge a session entry (``## Session ...``), a field
(``- **Outcome**: passing``), a fence, HTML, or smuggle control characters and secrets.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.redact import Redactor

MAX_CHARS = 400
_MARKUP = re.compile(r"[#*`~<>|\[\]\\]+")
_RULE = re.compile(r"(?:^|\s)[-=]{3,}(?=\s|$)")


def model_text(text: str | None, limit: int = MAX_CHARS, *, secrets: Redactor) -> str:
    """One line of at most `limit` characters: control characters dropped, Markdown
    structure (headings, emphasis, fences, lists, tables, links, HTML) flattened, the
    run's ``secrets`` redacted."""
    if not text:
        return ""
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in secrets.text(text))
    flat = _RULE.sub(" ", _MARKUP.sub(" ", kept))
    line = " ".join(flat.split())
    line = line.lstrip("-+0123456789. ")  # no list marker at the start
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line
