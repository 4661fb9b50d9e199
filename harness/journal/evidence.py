"""Evidence references, ``journal:<journal-id>/<run>/<session>/<seq>``, checked in a journal.

A feature's evidence cites the step that ran its check. ``cited_step`` finds that step in
this journal and checks it the way replay does (its session's chain up to it); the caller
(above both the protocol files and the journal) compares what the step recorded with the
evidence. A reference to another journal id means the journal it cites is gone here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.errors import JournalError, JournalForged
from harness.journal.chain import ROW_COLUMNS, check_row

if TYPE_CHECKING:
    from harness.journal.journal import Journal

PREFIX = "journal:"


@dataclass(frozen=True)
class StepRef:
    journal_id: str | None  # None: the form before journal ids, ``journal:<run>/<s>/<seq>``
    run_id: str
    session: int
    seq: int

    @property
    def step(self) -> str:
        return f"{self.run_id}/{self.session}/{self.seq}"


@dataclass(frozen=True)
class CitedStep:
    """A step found, chain-checked, with its recorded output."""

    ref: StepRef
    kind: str
    name: str
    status: str
    output: Any


def parse_ref(text: str) -> StepRef | None:
    """The parts of a ``journal:`` reference (None if it is not one)."""
    if not text.startswith(PREFIX):
        return None
    parts = text[len(PREFIX) :].split("/")
    if len(parts) == 3:
        parts.insert(0, "")
    if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit() or not parts[1]:
        return None
    return StepRef(parts[0] or None, parts[1], int(parts[2]), int(parts[3]))


def cited_step(journal: Journal, text: str) -> CitedStep | str:
    """The step ``text`` cites, checked against its chain; else what is wrong with it."""
    ref = parse_ref(text)
    if ref is None:
        return f"{text!r} is not a journal reference (journal:<id>/<run>/<session>/<seq>)"
    if ref.journal_id is not None and ref.journal_id != journal.id:
        return (
            f"it cites journal {ref.journal_id}, but the journal here ({journal.path}) is "
            f"{journal.id}: the journal it cites was removed or replaced"
        )
    rows = journal.execute(
        f"SELECT {ROW_COLUMNS}, output, output_blob FROM steps "
        "WHERE run_id = ? AND session = ? AND seq <= ? AND gen = 0 ORDER BY seq",
        (ref.run_id, ref.session, ref.seq),
    ).fetchall()
    if not rows or rows[-1][0] != ref.seq:
        return f"it cites step {ref.step}, which does not exist in journal {journal.path}"
    try:
        chain = journal.chain
        link = chain.seed(ref.run_id, ref.session)
        for row in rows:
            link = check_row(chain, link, ref.run_id, ref.session, row, str(journal.path))
    except JournalForged as error:
        return f"step {error.step} of its session fails the journal's chain: {error.what}"
    except JournalError as error:
        return f"its step {ref.step} cannot be checked: {error.message}"
    last = rows[-1]
    output = journal.load(last[-2], last[-1]) if last[5] == "ended" else None
    return CitedStep(ref, str(last[1]), str(last[2]), str(last[5]), output)
