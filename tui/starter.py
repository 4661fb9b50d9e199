"""Start `harness run` in a subprocess: the one thing the TUI may launch, on request."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from harness.hostpath import NEUTRAL_CWD, child_env, harness_command

LOG = ".harness/tui-run.log"


class RunStarter:
    """One `harness run` child at a time; its output goes to .harness/tui-run.log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.last_exit: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Never `python -m harness` in the project: a harness/ package the agent wrote
        # there would run on the host instead (harness.hostpath.harness_command).
        self.command = harness_command("-C", str(root.absolute()), "run", "--unattended")

    def running(self) -> bool:
        """True while the child runs."""
        return self.process is not None and self.process.poll() is None

    def describe(self) -> str:
        """A few words for the status line, or "" when nothing was started."""
        if self.running() and self.process is not None:
            return f"`harness run` started here (pid {self.process.pid}, output in {LOG})"
        if self.last_exit is not None:
            return f"last `harness run` from here exited {self.last_exit} ({LOG}) · r runs again"
        return ""

    def run(self) -> int:
        """Run `harness run --unattended` to its end; return its exit code."""
        with self._lock:
            if self.running():
                return -1
            (self.root / LOG).parent.mkdir(exist_ok=True)
            with open(self.root / LOG, "ab") as log:
                process = self.process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=NEUTRAL_CWD,
                    env=child_env(),
                    start_new_session=True,
                )
        while not self._stop.is_set():
            code = process.poll()
            if code is not None:
                self.last_exit = code
                return code
            self._stop.wait(0.1)
        return -1  # the TUI quits; the run goes on (its own session: no SIGHUP from us)

    def stop_waiting(self) -> None:
        """Stop waiting for the child (on quit); the child itself goes on."""
        self._stop.set()
