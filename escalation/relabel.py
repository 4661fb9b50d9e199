"""Labels across sessions: a later session shows that an earlier decision should have asked.

Within a session, an unasked decision is labelled should-ask when its window's change is
undone by the session's end (``escalation.outcomes``). A change can be undone later: the
next session puts the file back, a command restores it, or the person reverts it between
sessions or runs. When a session closes, every unasked decision of the run's earlier
sessions and of the project's earlier runs (recorded before the session's own decisions)
still labelled "need not have asked" whose window changed a file that is now back
to its bytes from before that window (or gone again, when the window created it) is
relabelled should-ask, "undone in session N". Likewise an answer: when a question of the
session was answered with more than a go-ahead (its outcome says it should have asked),
every such decision of the earlier sessions about a similar situation (cosine >= ``SIMILAR``
of the two situations' hashed embeddings, the same rule as within a session) is relabelled
"a similar question answered in session N". The answer is the human's: the agent cannot
make one matter.

Relabels only ever go one way (to should-ask) and each outcome once: a later session cannot
launder an earlier label (redoing the change after the harness saw it undone leaves the
relabel), so an agent cannot teach the harness that its silent changes were fine by
undoing and redoing them. They are kept in the project record and the user record (by
outcome key; paths never leave the project) inside the journaled settling step, so a
writeback killed and resumed relabels the same outcomes once, and a fit reads them up to
the relabel id its checkpoint names (``escalation.record``).
"""

from __future__ import annotations

from collections.abc import Callable

from escalation.outcomes import SIMILAR
from escalation.record import Record


def undone_since(
    record: Record, project: str, run: str, session: int, on_disk: Callable[[str], str | None]
) -> dict[str, str]:
    """The earlier outcomes (``run``'s earlier sessions, the project's earlier runs) that
    ``session``'s end shows should have asked (module docstring), with why."""
    found = {}
    for key, files in record.open_windows(project, run, session).items():
        back = sorted(path for path, before in files.items() if on_disk(path) == before)
        if back:
            found[key] = f"undone in session {session}: {len(back)} file(s) back as before"
    return found


def answered_since(
    record: Record, project: str, run: str, session: int, answers: list[dict[int, float]]
) -> dict[str, str]:
    """The earlier outcomes (as ``undone_since``) about a situation similar to one of
    ``answers`` (sketches of ``session``'s questions whose answer mattered), with why."""
    if not answers:
        return {}
    found = {}
    for key, sketch in record.open_sketches(project, run, session).items():
        if any(_cosine(sketch, answer) >= SIMILAR for answer in answers):
            found[key] = f"a similar question answered in session {session}"
    return found


def _cosine(a: dict[int, float], b: dict[int, float]) -> float:
    """Of two L2-normalized sparse vectors."""
    return sum(v * b.get(i, 0.0) for i, v in a.items())
