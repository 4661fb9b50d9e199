"""`HarnessApp`: the Textual app that shows a project's runs and takes the human's answers.

It shows the harness, it does not own it: a worker thread follows the files (watchdog plus
a light poll) and reads them read-only; answers go through the question store, as with
`harness answer`. The only run it ever starts is `harness run` on the key r, in a
subprocess, and only when no run is active.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from tui.data import ProjectData
from tui.features import FeaturesPanel
from tui.inbox import InboxPanel
from tui.model import Reply, Update
from tui.questions_view import store_reply
from tui.runner import RunnerPanel
from tui.screens import HelpScreen, StepDetailScreen
from tui.sessions import SessionsPanel
from tui.starter import LOG, RunStarter
from tui.steps import StepsPanel
from tui.watch import ChangeWatcher

DEBOUNCE_S = 0.03  # one write gives several events: gather them, then read once
RUN_HINT = "r: start `harness run`"


class HarnessApp(App[int]):
    """Live view of one project: features, sessions, steps, runner, inbox."""

    CSS_PATH = [  # noqa: RUF012 (Textual's idiom); absolute: subclasses live elsewhere
        Path(__file__).with_name("app.tcss"),
        Path(__file__).with_name("inbox.tcss"),
    ]
    TITLE = "harness"
    AUTO_FOCUS = "#inbox-list"
    BINDINGS = [  # noqa: RUF012 (Textual's idiom)
        Binding("q", "quit", "Quit"),
        Binding("r", "start_run", "Start run"),
        Binding("i", "focus('inbox-list')", "Inbox"),
        Binding("s", "focus('steps-table')", "Steps"),
        Binding("slash", "filter", "Filter"),
        Binding("question_mark", "help", "Help"),
    ]
    COMPACT_BELOW = 32  # rows: a smaller terminal hides the charts and the filter box

    def __init__(self, root: Path, *, poll_s: float = 1.0, watch: bool = True) -> None:
        super().__init__()
        self.root = root.resolve()
        self.poll_s = poll_s
        self.watch_files = watch
        self.ready = threading.Event()  # set after the first data is drawn
        self.refreshes = 0
        self.run_status = "reading the journal..."
        self.run_active = False
        self.run_id = ""
        self._wake = threading.Event()
        self._stopping = False
        self._errors_shown: set[str] = set()
        self.starter = RunStarter(self.root)

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield FeaturesPanel()
                yield SessionsPanel()
                yield RunnerPanel()
            with Vertical(id="right"):
                yield StepsPanel()
                yield InboxPanel()
        yield Footer()

    def on_mount(self) -> None:
        self._status()
        self.follow()
        self._fit(self.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        """At 80×24 the feature table keeps its rows: charts and the filter box give way."""
        self.screen.set_class(height < self.COMPACT_BELOW, "compact")

    def action_filter(self) -> None:
        self.screen.add_class("filtering")
        self.set_focus(self.query_one("#features-filter"))

    def action_help(self) -> None:

        self.push_screen(HelpScreen())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "steps-table" or event.row_key.value is None:
            return

        self.push_screen(StepDetailScreen(self.root, str(event.row_key.value)))

    def _status(self) -> None:
        run = self.starter.describe() or ("" if self.run_active else RUN_HINT)
        state = self.run_status
        questions = self.query_one(InboxPanel).questions
        waiting = [q.id for q in questions if q.run in (self.run_id, "")]  # "": not recorded
        if self.run_active and waiting:  # a live run blocked on the human, not working
            state = f"run {self.run_id} waiting for your answer to {', '.join(waiting[:3])} (i)"
        text = f"{self.root.name} · {state}" + (f" · {run}" if run else "")
        self.query_one("#status", Static).update(Text.assemble(("harness ", "b"), text))

    # -- the follower: a worker thread that reads, the UI thread that draws ---------------

    @work(thread=True, exclusive=True, group="follow", exit_on_error=False)
    def follow(self) -> None:
        """Read what changed, hand it to the UI thread; wake on file events or the poll."""
        worker = get_current_worker()
        data = ProjectData(self.root)
        watcher = ChangeWatcher(self.root, self._wake)
        if self.watch_files:
            watcher.start()
        try:
            while not (worker.is_cancelled or self._stopping):
                update = data.refresh()
                if not update.empty() or not self.ready.is_set():
                    self.call_from_thread(self.apply, update)
                runner = Update()  # after the first draw: it may ask the Docker engine
                data.runner_state(runner)
                if not runner.empty():
                    self.call_from_thread(self.apply, runner)
                if self._wake.wait(self.poll_s):
                    time.sleep(DEBOUNCE_S)
                self._wake.clear()
        except RuntimeError:  # the app went away while we were handing over
            pass
        finally:
            watcher.stop()
            data.close()

    def apply(self, update: Update) -> None:
        """Draw an update (UI thread)."""
        self.refreshes += 1
        features = self.query_one(FeaturesPanel)
        if update.features is not None or update.features_error is not None:
            features.show(update.features, update.features_error)
        total = len(update.features.features) if update.features is not None else None
        if update.sessions is not None or update.progress is not None or total is not None:
            self.query_one(SessionsPanel).show(update.sessions, update.progress, total)
        self.query_one(StepsPanel).add(update.steps)
        if update.questions is not None:
            self.query_one(InboxPanel).show(update.questions)
        if update.runner is not None:
            self.query_one(RunnerPanel).show(update.runner)
        if update.run_status is not None:
            self.run_status = update.run_status
        if update.run_active is not None:
            self.run_active = update.run_active
        if update.run_id is not None:
            self.run_id = update.run_id
        for error in update.errors:
            if error not in self._errors_shown:  # a failing source is retried every poll
                self._errors_shown.add(error)
                self.notify(error, severity="error", timeout=8, markup=False)
        self._status()
        self.ready.set()

    def poke(self) -> None:
        """Read now rather than at the next event or poll."""
        self._wake.set()

    # -- actions --------------------------------------------------------------------------

    def on_inbox_panel_replied(self, message: InboxPanel.Replied) -> None:
        self.send_reply(message.reply)

    @work(thread=True, group="reply", exit_on_error=False)
    def send_reply(self, reply: Reply) -> None:
        """Store the human's reply through the question store (a worker: SQLite may wait)."""

        try:
            said = store_reply(self.root, reply)
        except Exception as error:  # shown, never raised into the UI
            said = f"not stored: {error}"
            self.call_from_thread(self.notify, said, severity="error", markup=False)
        else:
            said += "; `harness run` resumes a parked run"
            self.call_from_thread(self.notify, said, markup=False)
        self.poke()

    def action_start_run(self) -> None:
        active = self.run_active or self.starter.running()
        if active:
            self.notify("a run is active: the TUI never drives it; it only watches", timeout=5)
            return
        self.start_run()

    @work(thread=True, group="run", exit_on_error=False)
    def start_run(self) -> None:
        """`harness run` in a subprocess; its exit code is shown when it ends."""
        self.call_from_thread(
            self.notify, f"started `harness run` in a subprocess; its output goes to {LOG}"
        )
        self.call_from_thread(self._status)
        code = self.starter.run()
        if self._stopping:
            return
        said = f"`harness run` exited with {code} (its output: {LOG})"
        self.call_from_thread(self.notify, said, timeout=8)
        self.call_from_thread(self._status)
        self.poke()

    def stop_following(self) -> None:
        """Let the follower thread end now (it would otherwise sleep until the poll)."""
        self._stopping = True
        self._wake.set()
        self.starter.stop_waiting()

    async def action_quit(self) -> None:
        self.stop_following()
        self.exit(0)

    def on_unmount(self) -> None:
        self.stop_following()
