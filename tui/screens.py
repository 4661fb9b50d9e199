"""Modal screens: the `?` help and one step's detail (inputs, output or error)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from harness.config import journal_location
from harness.journal.protocol import open_reader
from harness.terminal import lines_for_terminal

MAX_CHARS = 20_000  # a step's inputs can be a whole transcript: show its head

HELP = """\
[b]harness tui[/]: watches the project; it never drives a run.

[b]keys[/]
  ?        this help                 q        quit
  r        start `harness run` (only when no run is active; its output goes to
           .harness/tui-run.log)
  i        the inbox: questions and approvals waiting for you
  s        the live steps; [b]enter[/] on a step shows its inputs and output
  /        filter the features (by id, text or category)
  escape   close this screen

[b]in the inbox[/]
  a / d    approve / deny the selected approval
  1..9     pick a choice        t   type an answer

[b]figures[/]
  The status line's tokens and cost cover the newest run (every step it journaled,
  across resumes); the sessions panel's cover each session. `harness runs` lists every
  run, `harness run --report` also gives the project's total.

[b]proofs[/] (a passing feature's evidence)
  chk: the harness ran its check · cln: on a clean checkout of the committed tree, in a
  fresh sandbox · bef: it failed where the session started · eval: an independent
  evaluator passed it · hum: a person approved it. `harness show F001` lists the steps.

[b]states[/]
  running: a live process drives the run · waiting for your answer: a live run waits on
  a question in the inbox · waiting for a human: a question or approval parked it ·
  parked: waiting for the provider, Docker or disk · interrupted: killed or Ctrl-C.
  `harness run` resumes the last three. The header follows the run's process: a run that
  ends or dies is shown so within a poll (a second).
  Features: pass, fail, or adopt (adopted as passing, not re-verified yet).
"""


class HelpScreen(ModalScreen[None]):
    """`?`: the keys, what the figures cover, what the states mean."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP, id="help-text")


def step_text(root: Path, ref: str) -> str:
    """The markup of one step (`run/session/seq`), read-only from the journal."""

    run_id, session, seq = ref.rsplit("/", 2)
    with open_reader(journal_location(root)) as journal:
        detail = journal.step_detail(run_id, int(session), int(seq))
    if detail is None:
        return f"no step {escape(ref)} in the journal"
    head = [
        f"[b]run[/] {escape(detail.run_id)}  [b]session[/] {detail.session}  "
        f"[b]step[/] {detail.seq}",
        f"[b]{escape(detail.kind)}[/] {escape(detail.name)}  status {escape(detail.status)}  "
        f"attempts {detail.attempts}",
    ]
    if detail.duration is not None:
        head.append(
            f"duration {detail.duration * 1000:.1f} ms  tokens {detail.tokens or 0}  "
            f"cost ${detail.cost_usd or 0:.4f}"
        )
    body = ["", "[b]inputs[/]", _json(detail.inputs)]
    if detail.error is not None:
        body += ["", "[b red]error[/]", _json(detail.error)]
    else:
        body += ["", "[b]output[/]", _json(detail.output)]
    return "\n".join(head + body)


def _json(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + f"\n... ({len(text) - MAX_CHARS} more characters: `harness show`)"
    return escape(lines_for_terminal(text))


class StepDetailScreen(ModalScreen[None]):
    """One step's inputs and output (enter on a row of the steps panel)."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]  # noqa: RUF012

    def __init__(self, root: Path, ref: str) -> None:
        super().__init__()
        self.root = root
        self.ref = ref

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="step-detail"):
            yield Static(step_text(self.root, self.ref), id="step-detail-text")
