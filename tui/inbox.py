"""The inbox: pending questions and gated actions; the human answers here.

Keys (list focused): 1-9 choose, t or enter type an answer, a approve, d deny (then type
the reason and press enter), f attach files. In the answer box, enter sends.
Answers go through `escalation.questions.QuestionStore`, the same API `harness answer` uses;
in the fleet view (``fleet=True``: ids are RUN/QID, no attachments) through
`fleet.inbox.settle`, the path of `harness fleet answer`.
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from harness.terminal import for_terminal
from tui.model import QuestionView, Reply


def detail(q: QuestionView, *, fleet: bool = False) -> str:
    """The question, its choices and the keys first (a small terminal shows the top of
    it), then its context, scores and reason (markup; every agent string escaped); the
    fleet's copy of a question carries them too (``harness_fleet_questions``)."""
    head = "[b magenta]APPROVAL[/]" if q.kind == "approval" else "[b cyan]QUESTION[/]"
    lines = [f"{head} {escape(q.id)}  {escape(for_terminal(q.text))}"]
    if q.kind == "approval":
        if q.choices:  # the items it approves (adopted features): all, or some by CLI
            items = ", ".join(escape(for_terminal(c, one_line=True)) for c in q.choices[:8])
            more = f" and {len(q.choices) - 8} more" if len(q.choices) > 8 else ""
            lines.append(f"covers {len(q.choices)}: {items}{more}")
        lines.append("[b]a[/] approve   [b]d[/] deny (type a reason, enter)")
        if len(q.choices) > 1 and not fleet:
            lines.append(f"some only: `harness approve {escape(q.id)} --only ITEMS`")
    else:
        for i, choice in enumerate(q.choices[:9], 1):
            lines.append(f"  [b]{i}[/] {escape(for_terminal(choice, one_line=True))}")
        keys = "[b]1-9[/] choose   " if q.choices else ""
        files = "" if fleet else "   [b]f[/] attach files"
        lines.append(f"{keys}[b]t[/] type an answer (enter sends){files}")
    if q.context:
        lines.append(f"[dim]{escape(for_terminal(q.context[:400]))}[/]")
    s = q.scores
    if s:
        names = ("uncertainty", "novelty", "benefit", "total")
        lines.append("scores: " + "  ".join(f"{n} {float(s.get(n, 0)):.2f}" for n in names))
    lines.append(f"why asked: {escape(for_terminal(q.reason or 'not recorded'))}")
    return "\n".join(lines)


class InboxPanel(Vertical):
    """Pending questions, newest last; the selected one is shown in full."""

    BORDER_TITLE = "Inbox"
    BINDINGS = [  # noqa: RUF012 (Textual's idiom)
        Binding("a", "approve", "Approve"),
        Binding("d", "deny", "Deny"),
        Binding("t", "type", "Answer"),
        Binding("f", "files", "Attach", show=False),
        *(Binding(str(n), f"choose({n})", show=False) for n in range(1, 10)),
    ]

    class Replied(Message):
        """Posted when the human answers, approves or denies."""

        def __init__(self, reply: Reply) -> None:
            super().__init__()
            self.reply = reply

    def __init__(self, *, fleet: bool = False) -> None:
        super().__init__(id="inbox")
        self.questions: list[QuestionView] = []
        self.denying = False
        self.fleet = fleet

    def compose(self) -> ComposeResult:
        yield OptionList(id="inbox-list")
        yield Static("no pending questions", id="inbox-detail")
        yield Input(placeholder="answer (enter sends)", id="inbox-answer")
        if not self.fleet:
            yield Input(placeholder="attach files: paths separated by spaces", id="inbox-files")

    def show(self, questions: list[QuestionView]) -> None:
        """Replace the list with the pending questions, keeping the selection."""
        current = self.selected()
        self.questions = questions
        options = self.query_one("#inbox-list", OptionList)
        options.clear_options()
        for q in questions:
            ref = q.id if self.fleet else q.id[:8]
            label = f"{'gate' if q.kind == 'approval' else ' ask'} {ref} {q.text[:60]}"
            options.add_option(Option(escape(for_terminal(label, one_line=True)), id=q.id))
        ids = [q.id for q in questions]
        if questions:
            options.highlighted = ids.index(current.id) if current and current.id in ids else 0
        self.border_title = f"Inbox ({len(questions)} pending)" if questions else "Inbox"
        self.screen.set_class(bool(questions), "asking")  # the inbox takes more room
        self._detail()

    def selected(self) -> QuestionView | None:
        """The highlighted question."""
        index = self.query_one("#inbox-list", OptionList).highlighted
        if index is None or index >= len(self.questions):
            return None
        return self.questions[index]

    def _detail(self) -> None:
        q = self.selected()
        text = detail(q, fleet=self.fleet) if q else "no pending questions"
        self.query_one("#inbox-detail", Static).update(text)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.denying = False
        self._detail()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_type()

    def _files(self) -> tuple[str, ...]:
        if self.fleet:
            return ()
        return tuple(self.query_one("#inbox-files", Input).value.split())

    def _typing(self, box: str | None) -> None:
        """Show the answer or the files box (a small terminal hides them until asked)."""
        self.set_class(box == "answer", "answering")
        self.set_class(box == "files", "attaching")

    def _send(self, reply: Reply) -> None:
        for box in self.query(Input):
            box.value = ""
        self.query_one("#inbox-answer", Input).placeholder = "answer (enter sends)"
        self.denying = False
        self._typing(None)
        self.query_one("#inbox-list", OptionList).focus()
        self.post_message(self.Replied(reply))

    def action_approve(self) -> None:
        q = self.selected()
        if q is not None:
            self._send(Reply(q.id, "approve"))

    def action_deny(self) -> None:
        if self.selected() is None:
            return
        self.denying = True
        self._typing("answer")
        box = self.query_one("#inbox-answer", Input)
        box.placeholder = "why deny? enter denies, escape cancels"
        box.focus()

    def action_type(self) -> None:
        if self.selected() is not None:
            self._typing("answer")
            self.query_one("#inbox-answer", Input).focus()

    def action_files(self) -> None:
        if self.selected() is not None and not self.fleet:
            self._typing("files")
            self.query_one("#inbox-files", Input).focus()

    def action_choose(self, number: int) -> None:
        q = self.selected()
        if q is not None and 0 < number <= len(q.choices):
            self._send(Reply(q.id, "answer", choice=number - 1, files=self._files()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        q = self.selected()
        if q is None:
            return
        text = self.query_one("#inbox-answer", Input).value.strip()
        if self.denying:
            self._send(Reply(q.id, "deny", text=text or "denied in the TUI"))
        elif q.kind == "approval":
            self.notify("an approval: press a to approve or d to deny", severity="warning")
        elif text or self._files():
            self._send(Reply(q.id, "answer", text=text or None, files=self._files()))

    def key_escape(self) -> None:
        self.denying = False
        self._typing(None)
        self.query_one("#inbox-answer", Input).placeholder = "answer (enter sends)"
        self.query_one("#inbox-list", OptionList).focus()
