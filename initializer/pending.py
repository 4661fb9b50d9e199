"""What an interrupted `harness init` left for `harness run` to finish: the spec it was
given and the harness.toml it was to write, read from the journal's unfinished init run.

Apart from :mod:`initializer.agent` so that every `harness run` can ask without loading the
initializer agent and its tools: only a run that finds an interrupted init imports those.
"""

from __future__ import annotations

from pathlib import Path

from harness.config import journal_location
from harness.errors import ArtifactError
from harness.journal.protocol import journal_exists, open_reader
from initializer.in_flight import live_init, refuse_beside_live_init, still_running


def interrupted_config(root: Path) -> str | None:
    """The harness.toml text an interrupted init of ``root`` was to write (None if none,
    or if that init still runs: it writes the file itself)."""

    where = journal_location(root)
    if live_init(root) is not None or not journal_exists(where):
        return None
    with open_reader(where) as journal:
        pending = journal.unfinished_run("init")
        if pending is None or journal.holder(pending) is not None:
            return None
        meta = next((r.meta for r in journal.runs() if r.id == pending), {})
    text = meta.get("config_text")
    return text if isinstance(text, str) and text.strip() else None


def interrupted_init(root: Path) -> Path | None:
    """The spec of an init of ``root`` that was interrupted (None if none is pending).

    ArtifactError when one is pending but its spec is gone, naming the command to type;
    RunLocked (exit 6) when it is not interrupted but still running in another process:
    known by the lock it holds from its first write, before it has recorded anything.
    """

    refuse_beside_live_init(root)
    where = journal_location(root)
    if not journal_exists(where):
        return None
    with open_reader(where) as journal:
        pending = journal.unfinished_run("init")
        if pending is None:
            return None
        pid = journal.holder(pending)
        meta = next((r.meta for r in journal.runs() if r.id == pending), {})
    if pid is not None:  # an init of an older harness holds only its run's lock
        raise still_running(root, pid)
    spec = meta.get("spec")
    if not spec or not Path(spec).is_file():
        raise ArtifactError(
            root / ".harness",
            f"run {pending}",
            f"`harness init` was interrupted and its spec ({spec or 'not recorded'}) is gone",
            "Finish it with `harness init --spec FILE`, then `harness run`.",
        )
    return Path(spec)
