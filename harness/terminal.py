"""Agent-authored text made safe to show on a human's terminal.

The agent is untrusted: a question it asks, a tool name or an error it provoked may carry
terminal control sequences (ESC ``[2J`` clears the screen, CR rewrites a line, BEL rings)
that would let it redraw what the human sees, e.g. fake an approval prompt. A plain
newline is enough to forge a whole line that looks like the harness's own
("harness run: complete: every feature passes" under a run that is waiting). Every place
that prints such text to a terminal passes it through :func:`for_terminal` first: the
text stays on its line (``one_line``), or each of its lines after the first starts with
:data:`MARGIN`, a mark no line of the harness's own starts with. JSON output is left
exact: it is for programs, and JSON escapes control characters itself.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, the Unicode line and paragraph
# separators, and the bidi overrides and isolates (they reorder what is displayed:
# "Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u2029\u202a-\u202e\u2066-\u2069]")
_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
MARGIN = "  | "
"""Starts every line of an agent's text after its first (a quote, as in a mail reply)."""


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def lines_for_terminal(text: str) -> str:
    """A text of the harness's own lines (a table, indented JSON) in which agent words may
    sit: each line made inert on its own (:func:`for_terminal` with ``one_line``), the
    line breaks kept as they are."""
    return "\n".join(for_terminal(line, one_line=True) for line in text.split("\n"))


def for_terminal(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as a visible escape (``\\x1b``, ``\\r``).

    With ``one_line`` (a progress line, a report's detail) newline and tab are escapes
    too. Else tab is kept, and so are the newlines, each followed by :data:`MARGIN`: a
    line of the agent's never begins where a line of the harness's would. One line of
    plain text comes back unchanged. An ESC sequence loses its ESC, so it is shown as
    text (``\\x1b[2J``) and does nothing.
    """
    if one_line:
        return _ONE_LINE.sub(_visible, text)
    return _CONTROL.sub(_visible, text).replace("\n", "\n" + MARGIN)
