"""The step journal: every step of every session, durable in SQLite (WAL) under ``.harness/``.

See README.md. May import only ``harness.errors`` and ``harness.redact`` among our modules.
"""

from typing import TYPE_CHECKING, Any

from harness.errors import StepFailed
from harness.journal.journal import Journal, Run
from harness.journal.session import DivergenceWarning, SessionJournal

if TYPE_CHECKING:
    from harness.journal.rows import CacheStat, RunRow, SessionRow, StepDetail, StepRow

_ROWS = ("CacheStat", "RunRow", "SessionRow", "StepDetail", "StepRow")


def __getattr__(name: str) -> Any:
    # The row models need pydantic, which is slow to import; a resuming writer never needs them.
    if name in _ROWS:
        from harness.journal import rows

        return getattr(rows, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CacheStat",
    "DivergenceWarning",
    "Journal",
    "Run",
    "RunRow",
    "SessionJournal",
    "SessionRow",
    "StepDetail",
    "StepFailed",
    "StepRow",
]
