"""The step journal: every step of every session, durable, over a store (SQLite by default,
in-memory for unit tests, PostgreSQL by URL).

See README.md. May import only ``harness.errors``, ``harness.redact`` and ``harness.events``
among our modules. The names below are loaded on first use: a reader (``harness log``,
``status``, the TUI) never imports the writer's door or the row models it does not use.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from harness.errors import StepFailed

if TYPE_CHECKING:
    from harness.journal.door import DivergenceWarning, StepDoor, TranscriptChanged
    from harness.journal.journal import Journal, Run
    from harness.journal.location import Location
    from harness.journal.rows import CacheStat, RunRow, SessionRow, StepDetail, StepRow

_WHERE = {
    "DivergenceWarning": "door", "StepDoor": "door", "TranscriptChanged": "door",
    "Journal": "journal", "Run": "journal", "Location": "location",
    "CacheStat": "rows", "RunRow": "rows", "SessionRow": "rows", "StepDetail": "rows",
    "StepRow": "rows",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"harness.journal.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CacheStat",
    "DivergenceWarning",
    "Journal",
    "Location",
    "Run",
    "RunRow",
    "SessionRow",
    "StepDetail",
    "StepDoor",
    "StepFailed",
    "StepRow",
    "TranscriptChanged",
]
