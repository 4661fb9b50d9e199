"""The step journal: every step of every session, durable in SQLite (WAL) under ``.harness/``.

See README.md. May import only ``harness.errors`` among our modules.
"""

from harness.errors import StepFailed
from harness.journal.journal import Journal, Run
from harness.journal.redact import redact
from harness.journal.rows import CacheStat, RunRow, SessionRow, StepDetail, StepRow
from harness.journal.session import DivergenceWarning, SessionJournal

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
    "redact",
]
