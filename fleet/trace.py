"""Where a worker's seconds go between taking a run and its first step: with
``HARNESS_FLEET_TRACE=FILE`` in a worker's environment, the worker appends one line per
event to FILE, ``<unix time> <worker> <run> <event> <the thread's CPU s>``. A run's
events: ``workflow`` (its drive's DBOS workflow begun on this worker), ``prepared``,
``drive`` (its drive begun on a drive thread), ``running`` (its project there, its row
marked), ``first-step`` (its first live step begun); the worker's (run ``-``):
``recovered N of W`` (a lost peer's drives given back to the queues), ``dequeued N``
(DBOS's queue handing N drives to this worker). For finding what bounds a takeover
(bench/fleet.py); without the variable nothing is written."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

VARIABLE = "HARNESS_FLEET_TRACE"


class Trace:
    """One worker's trace file (appended: workers of one machine may share it)."""

    def __init__(self, path: Path, worker_id: str) -> None:
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._file: TextIO = open(path, "a", buffering=1)  # noqa: SIM115 (the worker's life)

    def mark(self, run_id: str, event: str) -> None:
        line = f"{time.time():.6f} {self.worker_id} {run_id} {event} {time.thread_time():.6f}\n"
        with self._lock:
            self._file.write(line)

    def watch_dequeues(self) -> None:
        """DBOS's queue thread says each dequeue at debug level: marked as ``dequeued N``."""

        trace = self

        class Dequeues(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                text = record.getMessage()
                if "dequeueing" in text:
                    trace.mark("-", "dequeued " + text.split("dequeueing ")[-1].split()[0])

        logger = logging.getLogger("dbos")
        logger.addHandler(Dequeues(logging.DEBUG))
        logger.setLevel(logging.DEBUG)
        for handler in logger.handlers:  # DBOS's own console handler stays at warnings
            if not isinstance(handler, Dequeues):
                handler.setLevel(max(handler.level, logging.WARNING))


def from_environ(environ: Mapping[str, str], worker_id: str) -> Trace | None:
    path = environ.get(VARIABLE)
    return Trace(Path(path), worker_id) if path else None
