"""What the model wrote, made safe to keep in progress.md (which the next prompt reads back).

The model is untrusted: its words go into the handoff chart only as one bounded line of
text, redacted, without control characters. They are kept as text, every other character
as written (``<command>npm test</command>``, ``[x]``, backticks): a one-line value sits
after its label (``- **Summary:** ...``), where progress.md's parser reads it back as the
same text, so it cannot start a session entry (``## Session ...``), a field or a fence.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.redact import Redactor

MAX_CHARS = 400


def model_text(text: str | None, limit: int = MAX_CHARS, *, secrets: Redactor) -> str:
    """One line of at most `limit` characters: control characters and line breaks as
    spaces, runs of spaces as one, the run's ``secrets`` redacted, no list or heading
    marker first."""
    if not text:
        return ""
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in secrets.text(text))
    line = " ".join(kept.split())
    line = line.lstrip("-+*#>0123456789. ")  # no list, heading or quote marker at the start
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line
