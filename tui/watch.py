"""Watch the project's files with watchdog and wake the follower thread.

One write gives several inotify events (created, modified, closed); they all just set one
`threading.Event`, and the follower coalesces them (debounce) before reading. Opened and
closed-without-write events are ignored: our own reads must not wake us.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tui.data import source_of

WRITE_EVENTS = {"created", "modified", "moved", "deleted", "closed"}


class ChangeWatcher:
    """Sets `wake` when a watched file of the project changes."""

    def __init__(self, root: Path, wake: threading.Event) -> None:
        self.root = root
        self.wake = wake
        self.dirty: set[str] = set()
        self._observer: Any = None
        self._state_watched = False

    def start(self) -> None:
        """Start the observer thread (root and .harness/, not recursive)."""
        # lazy (both): watchdog loads when the watcher starts, not when the TUI is imported
        from watchdog.events import FileSystemEvent, FileSystemEventHandler  # noqa: PLC0415
        from watchdog.observers import Observer  # noqa: PLC0415

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                watcher.seen(event.event_type, str(event.src_path), str(event.dest_path or ""))

        self._handler = Handler()
        self._observer = Observer()
        self._observer.daemon = True
        self._observer.schedule(self._handler, str(self.root), recursive=False)
        self._watch_state()
        self._observer.start()

    def _watch_state(self) -> None:
        state = self.root / ".harness"
        if not self._state_watched and state.is_dir() and self._observer is not None:
            self._observer.schedule(self._handler, str(state), recursive=False)
            self._state_watched = True

    def seen(self, kind: str, src: str, dest: str) -> None:
        """Handle one event (called on the observer thread)."""
        if kind not in WRITE_EVENTS:
            return
        if not self._state_watched and Path(src).name == ".harness":
            self._watch_state()
            self.wake.set()
            return
        for path in (src, dest):
            source = source_of(path, self.root) if path else None
            if source is not None:
                self.dirty.add(source)
                self.wake.set()

    def stop(self) -> None:
        """Stop the observer without waiting long."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=1.0)
