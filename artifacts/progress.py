"""``progress.md``: one readable Markdown entry per session that parses back losslessly.

An entry looks like this::

    ## Session 3 — 2026-11-23T12:00:00Z

    - **Feature:** F003
    - **Outcome:** passing
    - **Summary:** Login works; the check passes.
    - **Next:** F004, the logout button.
    - **Notes:**
      - the test database is recreated by init.sh

A value is written in one of three ways, so that any text round-trips exactly:

- plain, after the label, when it is one line with no control characters, no space at
  either end, not starting with ``"`` or a backtick and not ``(none)``;
- a fenced block, indented under the item, when it spans lines and holds no control
  character but tab (a fence longer than any run of backticks inside, so ``##`` headers
  and fences in the text stay text; trailing spaces and a final newline are kept);
- a JSON string (``"..."``) for anything else (an empty string, tabs, a carriage return).

``(none)`` stands for no feature and for no notes. Lines before the first
``## Session`` header (the title) are kept as they are and not parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from artifacts.io import atomic_write, display, read_text, refuse_link
from artifacts.models import ProgressEntry
from harness.errors import ArtifactError

PROGRESS = "progress.md"
TITLE = "# Progress\n\nOne entry per session, newest last. Written by harness; parsed back.\n"
NONE = "(none)"
HEADER = re.compile(r"^## Session (\d+) — (\S+)$")
FIELD = re.compile(r"^- \*\*(\w+):\*\*(?: (.*))?$")
LABELS = {"Feature": "feature", "Outcome": "outcome", "Summary": "summary", "Next": "next"}
_PLAIN_BAD = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_FENCE_BAD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029]")


def _is_plain(text: str) -> bool:
    return (
        bool(text)
        and text == text.strip()
        and not _PLAIN_BAD.search(text)
        and not text.startswith(('"', "`", "~"))
        and text != NONE
    )


def _fits_fence(text: str) -> bool:
    """Multi-line text without a control character but tab (a long notes file with tabs,
    trailing spaces or a final newline stays many readable lines, not one JSON string)."""
    return "\n" in text and not _FENCE_BAD.search(text)


def _value(text: str, indent: str) -> list[str]:
    """The label's rest (first item) and any following lines of a value."""
    if _is_plain(text):
        return [" " + text]
    if _fits_fence(text):
        longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
        fence = "`" * max(3, longest + 1)
        body = [indent + line if line else "" for line in text.split("\n")]
        return ["", "", indent + fence + "text", *body, indent + fence]
    return [" " + json.dumps(text, ensure_ascii=False)]


def _date(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def render_entry(entry: ProgressEntry) -> str:
    """One entry's Markdown, starting with its header and ending with a newline."""
    lines = [f"## Session {entry.session} — {_date(entry.date)}", ""]

    def item(label: str, text: str | None) -> None:
        first, *rest = [" " + NONE] if text is None else _value(text, "  ")
        lines.append(f"- **{label}:**{first}")
        lines.extend(rest)

    item("Feature", entry.feature)
    item("Outcome", entry.outcome)
    item("Summary", entry.summary)
    item("Next", entry.next)
    if not entry.notes:
        lines.append(f"- **Notes:** {NONE}")
    else:
        lines.append("- **Notes:**")
        for note in entry.notes:
            first, *rest = _value(note, "    ")
            lines.append(f"  -{first}")
            lines.extend(rest)
    return "\n".join(lines) + "\n"


def render_progress(entries: list[ProgressEntry], title: str = TITLE) -> str:
    """A whole progress.md: the title, then each entry after a blank line."""
    return title + "".join("\n" + render_entry(entry) for entry in entries)


class _Lines:
    """Lines of the file with their 1-based numbers, for parsing with errors that point."""

    def __init__(self, lines: list[str], start: int, file: str) -> None:
        self.lines, self.index, self.start, self.file = lines, 0, start, file

    def peek(self) -> str | None:
        return self.lines[self.index] if self.index < len(self.lines) else None

    def take(self) -> str:
        self.index += 1
        return self.lines[self.index - 1]

    def error(self, why: str, offset: int = -1) -> ArtifactError:
        line = self.start + self.index + offset
        return ArtifactError(
            self.file,
            f"line {line}",
            why,
            "Fix the entry by hand to the format in the file's other entries "
            "(or restore it with `git log -p progress.md`).",
        )


def _read_value(rest: str | None, lines: _Lines, indent: str) -> str:
    if rest is None:  # a fenced block follows
        while lines.peek() == "":
            lines.take()
        opener = lines.take() if lines.peek() is not None else ""
        fence = re.fullmatch(re.escape(indent) + r"(`{3,})text", opener)
        if not fence:
            raise lines.error(f"expected a fenced block opening with {indent!r}```text")
        closer = indent + fence.group(1)
        opened = f"the fenced block opened at line {lines.start + lines.index - 1}"
        body: list[str] = []
        while True:
            if lines.peek() is None:
                raise lines.error(f"{opened} is not closed with {closer.strip()}")
            line = lines.take()
            if line == closer:
                return "\n".join(body)
            if line and not line.startswith(indent):
                raise lines.error(
                    f"{opened} is not closed with {closer.strip()} before this line "
                    f"(a line inside is indented by {indent!r})"
                )
            body.append(line[len(indent) :])
    if rest.startswith('"'):
        try:
            value = json.loads(rest)
        except ValueError as error:
            raise lines.error(f"a quoted value is not a valid JSON string ({error})") from None
        if not isinstance(value, str):
            raise lines.error("a quoted value is not a string")
        return value
    return rest


def _parse_entry(lines: _Lines) -> ProgressEntry:
    header = HEADER.match(lines.take())
    if not header:
        raise lines.error('expected a header "## Session <number> — <date>"')
    try:
        date = datetime.fromisoformat(header.group(2))
    except ValueError:
        raise lines.error(f"the date {header.group(2)!r} is not an ISO 8601 date") from None
    values: dict[str, object] = {"session": int(header.group(1)), "date": date}
    while (line := lines.peek()) is not None and not line.startswith("## "):
        lines.take()
        if not line.strip():
            continue
        field = FIELD.match(line)
        if not field:
            raise lines.error(f"expected a line '- **Label:** value', found {line[:60]!r}")
        label, rest = field.group(1), field.group(2)
        if label == "Notes":
            values["notes"] = _read_notes(rest, lines)
            continue
        if label not in LABELS:
            raise lines.error(f'unknown label "{label}" (known: {", ".join(LABELS)}, Notes)')
        if LABELS[label] in values:
            raise lines.error(f'the label "{label}" appears twice in this entry')
        nullable = label == "Feature" and rest == NONE
        values[LABELS[label]] = None if nullable else _read_value(rest, lines, "  ")
    missing = [label for label, key in LABELS.items() if key not in values]
    if missing:
        raise lines.error(f"the entry has no {', '.join(missing)} line", -lines.index)
    try:
        return ProgressEntry.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise lines.error(f"{where}: {first['msg']}", -lines.index) from None


def _read_notes(rest: str | None, lines: _Lines) -> list[str]:
    if rest == NONE:
        return []
    if rest is not None:
        raise lines.error(f"Notes is followed by {rest!r}; expected {NONE} or a list below")
    notes = []
    while (line := lines.peek()) is not None and line.startswith("  -"):
        lines.take()
        text = line[3:]
        if text and not text.startswith(" "):
            raise lines.error("a note must start with '  - '")
        notes.append(_read_value(text[1:] or None, lines, "    "))
    return notes


def _split(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each entry."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        yield start + 1, lines[start:end]


def parse_progress(text: str, file: str = PROGRESS) -> list[ProgressEntry]:
    """Every entry of a progress.md; ArtifactError naming the line of the first problem."""
    if "\r" in text:
        line = text.count("\n", 0, text.index("\r")) + 1
        raise ArtifactError(
            file,
            f"line {line}",
            "the file has Windows line endings (CR LF)",
            "Convert it to LF line endings (e.g. `dos2unix progress.md`).",
        )
    entries: list[ProgressEntry] = []
    seen: dict[int, int] = {}
    for start, chunk in _split(text):
        entry = _parse_entry(_Lines(chunk, start, file))
        if entry.session in seen:
            raise ArtifactError(
                file,
                f"line {start}",
                f"session {entry.session} has a second entry (the first is at line "
                f"{seen[entry.session]})",
                "Keep one entry per session.",
            )
        seen[entry.session] = start
        entries.append(entry)
    return entries


def read_progress(root: Path) -> list[ProgressEntry]:
    """The entries of ``<root>/progress.md`` ([] when it does not exist or is empty); a
    symlink there is refused, never followed (:func:`artifacts.io.refuse_link`)."""
    path = root / PROGRESS
    if not path.exists() and not path.is_symlink():
        return []
    refuse_link(path, root)
    return parse_progress(read_text(path, root=root, allow_empty=True), display(path, root))


def append_progress(root: Path, entry: ProgressEntry) -> bool:
    """Append ``entry``; False (and nothing written) when its session has an entry already.
    A symlinked progress.md is refused: neither read nor written through."""
    path = root / PROGRESS
    refuse_link(path, root)
    exists = path.exists() or path.is_symlink()
    text = read_text(path, root=root, allow_empty=True) if exists else ""
    entries = parse_progress(text, display(path, root))
    if any(e.session == entry.session for e in entries):
        return False
    if not text.strip():
        text = TITLE
    elif not text.endswith("\n"):
        text += "\n"
    atomic_write(path, text + "\n" + render_entry(entry), root=root)
    return True


def now() -> datetime:
    """The current time in UTC, whole seconds (as entries show it)."""
    return datetime.now(UTC).replace(microsecond=0)
