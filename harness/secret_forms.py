"""The forms a known secret takes in text, and one search that finds them: the journal's
redactor (`harness.redact`) and the writeback's scan (`session.secrets`) both use it.

For each value harness knows to be secret (a secret-named environment variable's, the
model key's), a command's output or a file may hold:

- the value itself (and, in JSON text, its escaped form);
- base64, standard and URL-safe alphabets, padded or not, at each of the three byte
  alignments: the value inside a longer blob (``base64 <<< "token=$KEY"``) encodes to
  the same *core* whatever precedes it, once the characters that mix its first and last
  bytes with their neighbours are dropped (those are redacted with it when present);
  a core shorter than ``MIN_CORE`` is not searched (a value under 13 bytes has
  fewer than three base64 forms, under 12 none);
- hex, lower and upper case (``xxd -p``, ``od -An -tx1 | tr -d ' \\n'``);
- percent-encoding, when it differs from the value (as `quote` does with and without
  ``/`` kept, spaces as ``+``, and as JavaScript's ``encodeURIComponent``);
- the value reversed (``rev``).

Base64 and hex may be broken by line breaks (``base64`` wraps at 76 characters,
``xxd -p`` at 60) and cut short: a stretch of at least ``MIN_CORE`` characters of such a
form counts, its line breaks skipped, once one line holds ``ANCHOR + SPREAD - 1`` (39)
characters of it, or half of it. The other forms count only whole.

Key-shaped strings (`harness.redact.KEY_PATTERNS`) are found by their shape only: an
encoded key that no variable holds is not searched for (its encoding has no shape).
Dumps that interleave offsets, spaces or a character column (``xxd`` without ``-p``,
``od -c``, ``od -x``, ``hexdump -C``; their character column shows the value 16
characters a line) are not searched for either, nor an encoding of an encoding.

Speed: one compiled regex per search. Its alternatives are literal *anchors*, windows
of ``ANCHOR`` characters of each form that begin at a character rare in ordinary output,
plus the key patterns (each beginning with a literal): the regex engine then skips
over most text on its first-character test without trying a match (windows are grouped
by that character, so a hit tries one group). A hit is checked against the whole form in
Python. On a 1 MiB output of hashes and with 5 secrets this costs a few times the key
patterns' scan alone (`bench/redact.py`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import quote, quote_plus

MIN_CORE = 16
ANCHOR = 8
# Anchors of a form that may be broken by line breaks are at most this far apart (closer
# in a short form), so a line holding ANCHOR + SPREAD - 1 characters of the form, or half
# of it, holds a whole anchor: a form wrapped once is found whatever the wrap's offset.
SPREAD = 32
# Rarest first in ordinary output (source, logs, hashes); unlisted characters come last.
# 8 and 7 early: hex in either case then anchors on them, fewer first characters in all.
RARE = "%ZXQVYJWK87zGUHBqMDLFIOCPjRSTNAE+xvkwyg/_=-96543b2f10hmcupdlianorste"
_RANK = {ch: i for i, ch in enumerate(RARE)}
LINE_BREAKS = "\r\n"
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"

S = TypeVar("S", str, bytes)


@dataclass(frozen=True)
class Form:
    """One string to look for: ``name``'s value in the form ``kind``."""

    name: str
    kind: str  # "value", "base64", "base64url", "hex", "percent-encoded", "reversed"
    text: str
    lead: int = 0  # base64: characters before the core that mix in the preceding byte
    tail: bool = False  # base64: one character (and padding) after the core mixes too

    @property
    def broken(self) -> bool:
        """May be broken by line breaks and cut short (a stretch of MIN_CORE counts)."""
        return self.kind in ("base64", "base64url", "hex")


def forms(values: Mapping[str, str]) -> list[Form]:
    """Every form of every value, longest values first (a value holding another wins)."""
    found: list[Form] = []
    for name, value in sorted(values.items(), key=lambda item: -len(item[1])):
        raw = value.encode()
        found.append(Form(name, "value", value))
        reversed_ = value[::-1]
        found.append(Form(name, "reversed", reversed_))
        for kind, text in (("value", value), ("reversed", reversed_)):
            escaped = json.dumps(text, ensure_ascii=False)[1:-1]  # as it is in JSON text
            if escaped != text:
                found.append(Form(name, kind, escaped))
        # quote() keeps "/" by default; URL forms encode spaces as "+"; JavaScript's
        # encodeURIComponent keeps !~*'().
        for safe, plus in (("", False), ("/", False), ("", True), ("!~*'()", False)):
            percent = (quote_plus if plus else quote)(value, safe=safe)
            if percent != value and all(f.text != percent for f in found):
                found.append(Form(name, "percent-encoded", percent))
        found += [Form(name, "hex", raw.hex()), Form(name, "hex", raw.hex().upper())]
        for k in range(3):
            bits = 8 * (k + len(raw))
            start, end = -(-8 * k // 6), bits // 6
            for kind, encode in (
                ("base64", base64.b64encode),
                ("base64url", base64.urlsafe_b64encode),
            ):
                core = encode(bytes(k) + raw).decode()[start:end]
                if len(core) >= MIN_CORE and all(f.text != core for f in found):
                    found.append(Form(name, kind, core, lead=start, tail=bits % 6 != 0))
    return found


def _anchors(text: str, spread: int) -> list[int]:
    """Offsets of anchors in ``text``: each at the rarest character of its stretch (the
    last of equals, so anchors stay far apart), the next no more than ``spread`` on."""
    width = min(ANCHOR, len(text))
    last = len(text) - width
    offsets: list[int] = []
    start = 0
    while start <= last:
        stop = min(start + spread, last + 1)
        best = min(range(stop - 1, start - 1, -1), key=lambda i: _RANK.get(text[i], len(RARE)))
        offsets.append(best)
        start = best + 1
        if stop > last:
            break
    return offsets


def _literal_start(pattern: str) -> tuple[str, str]:
    """A key pattern as (the literal its lookbehind requires, the pattern without it)."""
    behind = re.match(r"\(\?<=([^()\\\[]*)\)", pattern)
    if behind is None:
        return "", pattern
    return behind.group(1), pattern[behind.end() :]


@dataclass(frozen=True)
class Found:
    """Where a secret is: ``data[start:end]``; ``name`` a variable or a key kind."""

    start: int
    end: int
    name: str
    kind: str  # a Form's kind, or "pattern" for a key shape


class FormSearch(Generic[S]):
    """One regex over ``forms`` and ``patterns`` (name, regex), for str or bytes data."""

    def __init__(self, forms: Sequence[Form], patterns: Iterable[tuple[str, str]], empty: S):
        self._empty: S = empty
        self._anchors: dict[S, list[tuple[Form, int]]] = {}
        windows: dict[str, list[str]] = {}  # by first character
        for form in forms:
            half = len(form.text) // 2 - ANCHOR + 1
            spread = max(1, min(SPREAD, half)) if form.broken else len(form.text)
            for offset in _anchors(form.text, spread):
                window = form.text[offset : offset + ANCHOR]
                key = self._cast(window)
                if key not in self._anchors:
                    self._anchors[key] = []
                    windows.setdefault(window[0], []).append(re.escape(window[1:]))
                self._anchors[key].append((form, offset))
        # Grouped by first character, so a hit tries one group, not every window.
        alternatives = [f"{re.escape(c)}(?:{'|'.join(rest)})" for c, rest in windows.items()]
        self._patterns: list[tuple[str, S, re.Pattern[S]]] = []
        for name, pattern in patterns:
            literal, rest = _literal_start(pattern)
            alternatives.append(f"{re.escape(literal)}(?:{rest})")
            self._patterns.append((name, self._cast(literal), re.compile(self._cast(rest))))
        self._regex: re.Pattern[S] = re.compile(self._cast("|".join(alternatives) or "(?!)"))
        # Each width of window there is, widest first: a hit is looked up at each, so a
        # short value's window does not hide a longer one starting at the same place.
        self._widths = sorted({len(window) for window in self._anchors}, reverse=True)

    def _cast(self, text: str) -> S:
        return text if isinstance(self._empty, str) else text.encode()

    def search(self, data: S) -> bool:
        """Cheap test: could ``data`` hold a secret? (An anchor or a key shape is there.)"""
        return self._regex.search(data) is not None

    def find(self, data: S) -> list[Found]:
        """The secrets in ``data``, in order, not overlapping (a variable's value wins
        over a key shape it overlaps)."""
        found: list[Found] = []
        shapes: list[Found] = []
        pos = 0
        while (match := self._regex.search(data, pos)) is not None:
            at = match.start()
            hit = self._form_at(data, at)
            if hit is not None:
                found.append(hit)
                pos = max(hit.end, at + 1)
                continue
            shape = self._shape_at(data, at)
            if shape is not None:
                shapes.append(shape)
            pos = at + 1  # a value may start inside a shape: it would be named by it
        return _merge(found, shapes)

    def _form_at(self, data: S, at: int) -> Found | None:
        """The longest form whose anchor is at ``at`` (the standard and URL-safe alphabets
        share most anchors: the one that fits further names it)."""
        best: Found | None = None
        for width in self._widths:
            for form, offset in self._anchors.get(data[at : at + width], ()):
                span = _extent(data, at, self._cast(form.text), offset, form.broken)
                if span is None:
                    continue
                start, end, whole_start, whole_end = span
                if form.kind.startswith("base64"):
                    start, end = _widen(data, start, end, form, whole_start, whole_end)
                if best is None or end - start > best.end - best.start:
                    best = Found(start, end, form.name, form.kind)
        return best

    def _shape_at(self, data: S, at: int) -> Found | None:
        for name, literal, pattern in self._patterns:
            if not data.startswith(literal, at):
                continue
            match = pattern.match(data, at + len(literal))
            if match is not None:
                return Found(match.start(), match.end(), name, "pattern")
        return None


def _extent(
    data: S, at: int, form: S, offset: int, broken: bool
) -> tuple[int, int, bool, bool] | None:
    """The span of ``form`` around its anchor at ``at`` (``form[offset:]`` starts there),
    and whether it reaches the form's start and end; None when too little of it is there."""
    width = min(ANCHOR, len(form))
    breaks = LINE_BREAKS if isinstance(data, str) else LINE_BREAKS.encode()
    i, t, start = offset - 1, at - 1, at
    while i >= 0 and t >= 0:
        if data[t] == form[i]:
            start, i = t, i - 1
        elif not (broken and data[t] in breaks):
            break
        t -= 1
    j, t, end = offset + width, at + width, at + width
    while j < len(form) and t < len(data):
        if data[t] == form[j]:
            j, end = j + 1, t + 1
        elif not (broken and data[t] in breaks):
            break
        t += 1
    whole_start, whole_end = i < 0, j >= len(form)
    if whole_start and whole_end:
        return start, end, True, True
    if broken and (j - i - 1) >= MIN_CORE:
        return start, end, whole_start, whole_end
    return None


def _widen(
    data: S, start: int, end: int, form: Form, whole_start: bool, whole_end: bool
) -> tuple[int, int]:
    """A base64 core's span with the characters that mix in the value's first and last
    bytes, and the padding, when they are there."""
    alphabet = BASE64 if isinstance(data, str) else BASE64.encode()
    if whole_start:
        for _ in range(form.lead):
            if start > 0 and data[start - 1] in alphabet:
                start -= 1
    if whole_end:
        if form.tail and end < len(data) and data[end] in alphabet:
            end += 1
        pad = "=" if isinstance(data, str) else b"="
        for _ in range(2):
            if data[end : end + 1] == pad:
                end += 1
    return start, end


def _merge(found: list[Found], shapes: list[Found]) -> list[Found]:
    """Values and shapes in order; where they overlap, one span over both, named by the
    value (by the longer of two values: the URL-safe form over the standard one it
    shares a stretch with)."""
    merged: list[Found] = []
    for item in sorted(found + shapes, key=lambda f: (f.start, f.kind == "pattern")):
        if merged and item.start < merged[-1].end:
            last = merged[-1]
            if (last.kind == "pattern") != (item.kind == "pattern"):
                keep = last if item.kind == "pattern" else item
            else:
                keep = item if item.end - item.start > last.end - last.start else last
            merged[-1] = Found(last.start, max(last.end, item.end), keep.name, keep.kind)
        else:
            merged.append(item)
    return merged
