"""`FleetApp`: `harness tui --fleet`, every run of a fleet and one inbox of the questions
of all its parked runs.

It shows the fleet, it does not drive it: a worker thread reads the fleet's tables every
poll (PostgreSQL or the embedded SQLite: no file to watch) and hands what changed to the
UI thread. An answer, approval or denial goes through `fleet.inbox.settle`, the path of
`harness fleet answer`: the run's next drive is enqueued and whichever worker is free
takes it. A database that stops answering is said in the status line and read again at
the next poll.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.worker import get_current_worker

from harness.errors import HarnessError
from tui.fleet_data import FleetSnapshot, FleetSource, describe_workers
from tui.fleet_runs import RunsPanel
from tui.inbox import InboxPanel
from tui.model import Reply


class FleetApp(App[int]):
    """Live view of a fleet: its runs, its workers, its questions."""

    CSS_PATH = [  # noqa: RUF012 (Textual's idiom); the later sheet wins a tie
        Path(__file__).with_name("inbox.tcss"),
        Path(__file__).with_name("fleet.tcss"),
    ]
    TITLE = "harness fleet"
    AUTO_FOCUS = "#runs-table"
    BINDINGS = [  # noqa: RUF012 (Textual's idiom)
        Binding("q", "quit", "Quit"),
        Binding("i", "focus('inbox-list')", "Inbox"),
        Binding("l", "focus('runs-table')", "Runs"),
    ]
    COMPACT_BELOW = 32  # rows: as HarnessApp, the small terminal's layout

    def __init__(self, source: FleetSource, *, poll_s: float = 1.0) -> None:
        super().__init__()
        self.source = source
        self.poll_s = poll_s
        self.ready = threading.Event()  # set after the first read is drawn
        self.snapshot = FleetSnapshot()
        self.error = ""
        self._wake = threading.Event()
        self._stopping = False

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        yield RunsPanel()
        yield InboxPanel(fleet=True)
        yield Footer()

    def on_mount(self) -> None:
        self.screen.set_class(self.size.height < self.COMPACT_BELOW, "compact")
        self._status()
        self.follow()

    def on_resize(self) -> None:
        self.screen.set_class(self.size.height < self.COMPACT_BELOW, "compact")

    def _status(self) -> None:
        parts = []  # what needs the operator first: a small terminal cuts the line's end
        if self.error:
            parts.append(f"the database does not answer: {self.error}; read again each poll")
        waiting = len(self.snapshot.questions)
        if waiting:
            parts.append(f"{waiting} question(s) waiting for you (i)")
        parts += [describe_workers(self.snapshot.workers), self.source.place.describe()]
        text = Text.assemble(("harness fleet ", "b"), " · ".join(parts))
        self.query_one("#status", Static).update(text)

    @work(thread=True, exclusive=True, group="follow", exit_on_error=False)
    def follow(self) -> None:
        """Read the fleet every poll (or at once when poked); hand each read to the UI."""
        worker = get_current_worker()
        while not (worker.is_cancelled or self._stopping):
            try:
                snapshot, error = self.source.read(), ""
            except (HarnessError, OSError) as failure:  # StorageError: unreachable
                snapshot, error = None, str(failure).splitlines()[0]
            except Exception as failure:  # the driver's own (e.g. a closed connection)
                snapshot, error = None, f"{type(failure).__name__}: {failure}".splitlines()[0]
            try:
                self.call_from_thread(self.apply, snapshot, error)
            except RuntimeError:  # the app went away while we were handing over
                return
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def apply(self, snapshot: FleetSnapshot | None, error: str) -> None:
        """Draw a read (UI thread); a failed read keeps the last one on screen."""
        if error and error != self.error:
            self.notify(error, severity="error", timeout=8, markup=False)
        self.error = error
        if snapshot is not None:
            self.query_one(RunsPanel).show(snapshot.runs)
            inbox = self.query_one(InboxPanel)
            if snapshot.questions != inbox.questions:
                inbox.show(snapshot.questions)
            self.snapshot = snapshot
        self._status()
        self.ready.set()

    def poke(self) -> None:
        """Read now rather than at the next poll."""
        self._wake.set()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a run: its first pending question in the inbox, if it has one."""
        run = event.row_key.value
        inbox = self.query_one(InboxPanel)
        ids = [q.run for q in inbox.questions]
        if run in ids:
            options = self.query_one("#inbox-list", OptionList)
            options.highlighted = ids.index(run)
            options.focus()
        else:
            self.notify(f"{run}: no question waiting", timeout=3, markup=False)

    def on_inbox_panel_replied(self, message: InboxPanel.Replied) -> None:
        self.source.expect_reply()
        self.send_reply(message.reply)

    @work(thread=True, group="reply", exit_on_error=False)
    def send_reply(self, reply: Reply) -> None:
        """Settle the question as `harness fleet answer` does (a worker: the database and
        DBOS may take a moment)."""
        try:
            said = self.source.reply(reply)
        except Exception as error:  # shown, never raised into the UI
            message = f"not stored: {error}".splitlines()[0]
            self.call_from_thread(self.notify, message, severity="error", markup=False)
        else:
            self.call_from_thread(self.notify, said, markup=False)
        self.poke()

    def stop_following(self) -> None:
        self._stopping = True
        self._wake.set()

    async def action_quit(self) -> None:
        self.stop_following()
        self.exit(0)

    def on_unmount(self) -> None:
        self.stop_following()
