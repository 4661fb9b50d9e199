"""progress.md: readable Markdown that parses back losslessly; broken entries point at a line."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from artifacts.models import ProgressEntry
from artifacts.progress import (
    TITLE,
    append_progress,
    parse_progress,
    read_progress,
    render_entry,
    render_progress,
)
from harness.errors import ArtifactError

NASTY = [
    "",
    " ",
    "(none)",
    '"quoted"',
    "## Session 9 — 2026-01-01T00:00:00Z",
    "line one\n## Session 2 — not a header\n- **Outcome:** fake",
    "```\ncode\n```",
    "````text\n  ```text\n````",
    "tab\there",
    "cr\r\nlf",
    "trailing space \nnext",
    "\n",
    "a\n",
    "\nleading newline",
    "- **Notes:** (none)",
    "  - looks like a note",
    "emoji 🚀 and \u2028 separator and \x00 nul",
    "`backticks` at start",
    "~~~ tilde fence",
    "\\ backslash \\n not a newline",
]
ALPHABET = "ab #-*`~\"'\\\n\r\t()\u00e9\u2028\x7f"


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(NASTY)
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))


def random_entry(rng: random.Random, session: int) -> ProgressEntry:
    offset = timezone(timedelta(minutes=rng.choice([0, 60, -330])))
    date = datetime(2026, 1, 1, tzinfo=offset) + timedelta(seconds=rng.randint(0, 10**8) / 7)
    return ProgressEntry(
        session=session,
        date=date,
        feature=rng.choice([None, "F001", "(none)", random_text(rng)]),
        outcome=random_text(rng) or "passing",
        summary=random_text(rng),
        next=random_text(rng),
        notes=[random_text(rng) for _ in range(rng.randint(0, 3))],
    )


def test_round_trip_property() -> None:
    rng = random.Random(20261123)
    for _ in range(300):
        entries = [random_entry(rng, n) for n in range(rng.randint(0, 4))]
        text = render_progress(entries)
        parsed = parse_progress(text)
        assert parsed == entries, text
        assert render_progress(parsed) == text


@pytest.mark.parametrize("value", NASTY)
def test_every_nasty_value_round_trips_in_every_field(value: str) -> None:
    entry = ProgressEntry(
        session=1,
        date=datetime(2026, 11, 23, 12, tzinfo=UTC),
        feature=value,
        outcome=value or "x",
        summary=value,
        next=value,
        notes=[value, value],
    )
    assert parse_progress(render_progress([entry])) == [entry]


def test_readable_format() -> None:
    entry = ProgressEntry(
        session=3,
        date=datetime(2026, 11, 23, 12, tzinfo=UTC),
        feature="F003",
        outcome="passing",
        summary="Login works.",
        next="F004.",
        notes=["one", "two\nlines"],
    )
    text = render_entry(entry)
    assert text.startswith("## Session 3 — 2026-11-23T12:00:00Z\n\n- **Feature:** F003\n")
    assert "- **Summary:** Login works.\n" in text
    assert "  - one\n  -\n\n    ```text\n    two\n    lines\n    ```\n" in text


def test_text_before_the_first_entry_is_kept(tmp_path: Path) -> None:
    (tmp_path / "progress.md").write_text("# My log\n\nhand-written intro\n")
    entry = ProgressEntry(
        session=1, date=datetime(2026, 1, 1, tzinfo=UTC), outcome="ok", summary="s", next="n"
    )
    assert append_progress(tmp_path, entry)
    assert (tmp_path / "progress.md").read_text().startswith("# My log\n\nhand-written intro\n\n")
    assert read_progress(tmp_path) == [entry]


def test_append_is_idempotent(tmp_path: Path) -> None:
    entry = ProgressEntry(
        session=4, date=datetime(2026, 1, 1, tzinfo=UTC), outcome="ok", summary="s", next="n"
    )
    assert read_progress(tmp_path) == []
    assert append_progress(tmp_path, entry) is True
    first = (tmp_path / "progress.md").read_bytes()
    assert first.decode() == render_progress([entry])
    assert append_progress(tmp_path, entry.model_copy(update={"summary": "other"})) is False
    assert (tmp_path / "progress.md").read_bytes() == first


def test_append_to_a_broken_file_refuses(tmp_path: Path) -> None:
    (tmp_path / "progress.md").write_text(TITLE + "\n## Session 1 — nope\n")
    entry = ProgressEntry(
        session=2, date=datetime(2026, 1, 1, tzinfo=UTC), outcome="ok", summary="s", next="n"
    )
    with pytest.raises(ArtifactError):
        append_progress(tmp_path, entry)
    assert (tmp_path / "progress.md").read_text() == TITLE + "\n## Session 1 — nope\n"


@pytest.mark.parametrize(
    ("edit", "line", "why"),
    [
        (lambda t: t.replace("- **Outcome:** ok\n", ""), 5, "no Outcome"),
        (lambda t: t.replace("- **Next:** n", "- **Next** n"), 10, "expected a line"),
        (lambda t: t.replace("- **Next:** n", "- **Then:** n"), 10, 'unknown label "Then"'),
        (
            lambda t: t.replace("- **Summary:** s", "- **Summary:** s\n- **Summary:** t"),
            10,
            "twice",
        ),
        (lambda t: t.replace("Session 1 —", "Session -1 —"), 5, "expected a header"),
        (lambda t: t.replace("- **Notes:** (none)", "- **Notes:** some"), 11, "Notes"),
        (lambda t: t.replace("- **Next:** n", '- **Next:** "n'), 10, "JSON string"),
        (
            lambda t: t.replace("- **Next:** n", "- **Next:** 7").replace("(none)", '"a"'),
            11,
            "Notes",
        ),
    ],
)
def test_broken_entries_name_the_line(edit: object, line: int, why: str) -> None:
    entry = ProgressEntry(
        session=1, date=datetime(2026, 1, 1, tzinfo=UTC), outcome="ok", summary="s", next="n"
    )
    text = edit(render_progress([entry]))  # type: ignore[operator]
    with pytest.raises(ArtifactError) as caught:
        parse_progress(text, "progress.md")
    assert caught.value.file == "progress.md"
    assert caught.value.where == f"line {line}", caught.value
    assert why in caught.value.why


def test_a_symlinked_progress_md_is_neither_read_nor_written_through(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    config = tmp_path / ".git" / "config"
    config.write_text("[core]\n")
    (tmp_path / "progress.md").symlink_to(".git/config")
    entry = random_entry(random.Random(1), 1)
    with pytest.raises(ArtifactError, match="is a symlink") as caught:
        append_progress(tmp_path, entry)
    assert caught.value.file == "progress.md" and "git checkout" in caught.value.fix
    with pytest.raises(ArtifactError, match="is a symlink"):
        read_progress(tmp_path)
    assert config.read_text() == "[core]\n"
