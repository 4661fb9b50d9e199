"""Agent-authored text made safe to show on a human's terminal.

The agent is untrusted: a question it asks, a tool name or an error it provoked may carry
terminal control sequences (ESC ``[2J`` clears the screen, CR rewrites a line, BEL rings)
that would let it redraw what the human sees, e.g. fake an approval prompt. Every place
that prints such text to a terminal passes it through :func:`for_terminal` first. JSON
output is left exact: it is for programs, and JSON escapes control characters itself.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidi overrides and
# isolates (they reorder what is displayed: "Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as a visible escape (``\\x1b``, ``\\r``).

    Newline and tab are kept, unless ``one_line`` (a progress line: a newline in it could
    draw a fake harness line of its own). Plain text comes back unchanged. An ESC sequence
    loses its ESC, so it is shown as text (``\\x1b[2J``) and does nothing.
    """
    pattern = _ONE_LINE if one_line else _CONTROL
    return pattern.sub(_visible, text)
