"""A read-only data source over a project: artifacts, journal, questions.

`ProjectData.refresh()` returns an `Update` holding only what changed since the last call.
Change detection is a stat signature per file (size, mtime, inode), so a poll costs a few
`stat` calls; the journal is read incrementally (steps after the last rowid seen). Nothing
here ever writes: artifacts are read with the protocol readers, SQLite through read-only
connections. It runs in a worker thread; it imports no Textual.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from artifacts.feature_list import load_feature_list
from artifacts.progress import read_progress
from escalation.question_db import questions_exist
from harness.config import journal_location
from harness.errors import HarnessError
from harness.journal.location import Location
from harness.journal.protocol import journal_exists
from tui.journal_view import JournalFollower
from tui.model import QuestionView, RunnerView, Update
from tui.questions_view import QuestionReader
from tui.runner_state import ContainerWatch, read_runner_config

SOURCES = ("features", "progress", "journal", "questions")  # "config": runner_state()

# Files whose change means a source must be re-read (relative to the project root).
WATCHED: dict[str, tuple[str, ...]] = {
    "features": ("feature_list.json",),
    "progress": ("progress.md",),
    "journal": tuple(p.as_posix() for p in Location(Path(".harness")).files()),  # SQLite's
    "questions": (".harness/questions.db", ".harness/questions.db-wal"),
    "config": ("harness.toml",),
}
DOCKER_POLL_S = 5.0


def source_of(path: str, root: Path) -> str | None:
    """The source a changed file belongs to, or None when it is not watched."""
    try:
        rel = Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    for source, files in WATCHED.items():
        if rel in files:
            return source
    return None


def _signature(paths: Iterable[Path]) -> tuple[tuple[int, int, int], ...]:
    sig = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            sig.append((0, 0, 0))
        else:
            sig.append((st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sig)


class ProjectData:
    """What the TUI shows of one project, read on demand and only when changed."""

    def __init__(self, root: Path, *, step_tail: int = 200) -> None:

        self.root = root
        self.state_dir = root / ".harness"
        try:
            self.where = journal_location(root)
        except HarnessError:  # a broken harness.toml: the config source shows its error
            self.where = Location(self.state_dir, project=str(root))
        self.step_tail = step_tail
        self._sigs: dict[str, tuple[tuple[int, int, int], ...]] = {}
        self._journal: JournalFollower | None = None
        self._questions: QuestionReader | None = None
        self._config: dict[str, Any] = {}
        self._docker = ContainerWatch(root, DOCKER_POLL_S)
        self._runner: RunnerView | None = None

    def changed(self, source: str) -> bool:
        """True (and remembered) when a source's files changed since the last look."""
        if source in ("journal", "questions") and not self.where.files():
            return True  # a database: read at every poll (only new rows are read)
        sig = _signature(self.root / rel for rel in WATCHED[source])
        if self._sigs.get(source) == sig:
            return False
        self._sigs[source] = sig
        return True

    def refresh(self, sources: Iterable[str] = SOURCES) -> Update:
        """Read the sources whose files changed; return what to redraw."""
        update = Update()
        for source in sources:
            moved = self.changed(source)  # always look: it remembers the signature
            if not moved and not (source == "journal" and self._holder_changed()):
                continue
            try:
                getattr(self, f"_read_{source}")(update)
            except HarnessError as error:
                if source == "features":
                    update.features_error = str(error)
                else:
                    update.errors.append(f"{source}: {error}")
            except Exception as error:  # a reader must never take the TUI down
                update.errors.append(f"{source}: {type(error).__name__}: {error}")
                self._sigs.pop(source, None)  # try again on the next poll
        return update

    def _holder_changed(self) -> bool:
        """The newest run's process lives or died since the last read (os.kill(pid, 0):
        a poll's cost), so the state follows the process within one poll."""
        return self._journal is not None and self._journal.holder_changed()

    def _read_features(self, update: Update) -> None:

        if not (self.root / "feature_list.json").exists():
            update.features_error = "no feature_list.json yet (harness init writes it)"
            return
        update.features = load_feature_list(self.root)

    def _read_progress(self, update: Update) -> None:

        update.progress = read_progress(self.root)

    def _read_journal(self, update: Update) -> None:
        if self._journal is None:
            if not journal_exists(self.where):
                update.run_status = "no journal yet: no run has started here"
                return
            self._journal = JournalFollower(self.where, tail=self.step_tail)
        self._journal.read(update)

    def _read_questions(self, update: Update) -> None:
        if self._questions is None:
            if not questions_exist(self.where):
                update.questions = []
                return
            self._questions = QuestionReader(self.where)
        update.questions = self._questions.pending()

    def runner_state(self, update: Update) -> None:
        """Set `update.runner` when the runner's config, work or containers changed."""
        if self.changed("config"):
            self._config = read_runner_config(self.root)
        self._docker.start()
        resources = {k: v for k, v in self._config.items() if k != "kind"}
        kind = str(self._config.get("kind", "?"))
        containers = self._docker.containers
        view = RunnerView(kind=kind, containers=containers, resources=resources)
        if self._journal is not None:
            if self._journal.runner_in_use:
                view = replace(view, in_use=self._journal.runner_in_use)
            out = self._journal.last_runner
            if out is not None:
                view = replace(view, last_command=str(out.get("command", "")))
                view = replace(view, last_exit=out.get("exit_code"))
            if self._journal.last_failure is not None:
                failure, where = self._journal.last_failure
                view = replace(view, last_failure=failure, failure_at=where)
        if view != self._runner:
            self._runner = update.runner = view

    def close(self) -> None:
        """Close the read-only connections."""
        self._docker.stop()
        if self._journal is not None:
            self._journal.close()
        if self._questions is not None:
            self._questions.close()


__all__ = ["SOURCES", "WATCHED", "ProjectData", "QuestionView", "source_of"]
