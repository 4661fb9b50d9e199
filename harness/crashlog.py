"""Where a traceback goes: a file, never the screen (the user reads one line about it).

``.harness/harness-crash-<time>.log`` when the project has a state folder, else the system's
temporary folder; redacted by the caller's :class:`~harness.redact.Redactor` (the secrets
of its run: none reaches the file).
"""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.redact import Redactor


def save_traceback(project: Path | str, secrets: Redactor) -> str:
    """Write the traceback being handled; return where (or why it could not be written)."""
    state = Path(project) / ".harness"
    folder = state if state.is_dir() else Path(tempfile.gettempdir())
    path = folder / f"harness-crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
    try:
        path.write_text(secrets.text(traceback.format_exc()), encoding="utf-8")
    except OSError:
        return "(could not be written)"
    return str(path)
