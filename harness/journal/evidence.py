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
from harness.journal.chain import check

if TYPE_CHECKING:
    from harness.journal.reading import ReaderBase

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


def cited_step(reader: ReaderBase, text: str) -> CitedStep | str:
    """The step ``text`` cites, checked against its chain; else what is wrong with it."""
    ref = parse_ref(text)
    if ref is None:
        return f"{text!r} is not a journal reference (journal:<id>/<run>/<session>/<seq>)"
    if ref.journal_id is not None and ref.journal_id != reader.journal_id:
        return (
            f"it cites journal {ref.journal_id}, but the journal here ({reader.where}) is "
            f"{reader.journal_id}: the journal it cites was removed or replaced"
        )
    rows = [row for row in reader.load_session(ref.run_id, ref.session) if row.seq <= ref.seq]
    if not rows or rows[-1].seq != ref.seq:
        return f"it cites step {ref.step}, which does not exist in journal {reader.where}"
    try:
        chain = reader.chain()
        link = chain.seed(ref.run_id, ref.session)
        for row in rows:
            link = check(chain, link, ref.run_id, ref.session, row, reader.where)
    except JournalForged as error:
        return f"step {error.step} of its session fails the journal's chain: {error.what}"
    except JournalError as error:
        return f"its step {ref.step} cannot be checked: {error.message}"
    last = rows[-1]
    output = (
        reader.load(last.result.output, last.result.output_blob) if last.status == "ended" else None
    )
    return CitedStep(ref, last.kind, last.name, last.status, output)
