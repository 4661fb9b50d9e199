"""Watching a run as it goes: progress lines on stderr and the `--json` event stream.

Both are observers of :mod:`harness.events`; neither changes what the run does. Their
figures are the run's (what the journal recorded for this run, seeded when the run
starts, plus every step this process ends), the same figures the run report gives.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from harness.events import Event
from harness.terminal import for_terminal

KIND_WORDS = {"llm": "model", "tool": "tool", "runner": "runner", "git": "git"}


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


class RunTotals:
    """Tokens and dollars of the run: seeded from the journal, then counted per step."""

    def __init__(self) -> None:
        self.tokens = 0
        self.cost_usd = 0.0

    def see(self, event: Event) -> None:
        if event.type == "run.started":
            self.tokens = int(event.data.get("tokens", 0))
            self.cost_usd = float(event.data.get("cost_usd", 0.0))
        elif event.type == "step.ended":
            self.tokens += event.tokens or 0
            self.cost_usd += event.cost_usd or 0.0


class ProgressLines:
    """One readable line per step (and per session, wait and question) on a stream."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.totals = RunTotals()
        self._broken = False

    def __call__(self, event: Event) -> None:
        self.totals.see(event)
        line = self.render(event)
        if line is not None:
            self._write(line)

    def render(self, event: Event) -> str | None:
        """The event's line, or None; the agent's words in it are shown, never obeyed."""
        line = self._line(event)
        return None if line is None else for_terminal(line, one_line=True)

    def _line(self, event: Event) -> str | None:
        where = f"s{event.session} #{event.seq}" if event.seq is not None else ""
        totals = f"run {self.totals.tokens:,} tokens ${self.totals.cost_usd:.4f}"
        kind = KIND_WORDS.get(event.kind, event.kind)
        if event.type == "run.started":
            how = "resuming" if event.data.get("resumed") else "starting"
            return f"harness: {how} run {event.run_id} in {event.data.get('project', '.')}"
        if event.type == "session.started":
            replay = int(event.data.get("replaying", 0))
            name = "init session" if event.data.get("run_kind") == "init" else "session"
            text = f"harness: {name} {event.session} started"
            if replay:
                text += f", replaying {replay} recorded step(s) (not paid again)"
            return text
        if event.type == "session.ended":
            from session.progress import OUTCOME_WORDS  # the words progress.md uses

            feature = event.data.get("feature")
            commit = event.data.get("commit")
            said = OUTCOME_WORDS.get(event.status, event.status)
            said = f"{feature} {said}" if feature else said  # "F001 unfinished", not "done F001"
            said += f", commit {str(commit)[:10]}" if commit else ""
            return f"harness: session {event.session} ended: {said} · {totals}"
        if event.type == "step.ended":
            spent = f" +{event.tokens:,} tokens" if event.tokens else ""
            return f"  {where} {kind} {event.name} {_duration(event.duration_s)}{spent} · {totals}"
        if event.type == "step.failed":
            return (
                f"  {where} {kind} {event.name} failed after {_duration(event.duration_s)}: "
                f"{event.detail} · {totals}"
            )
        if event.type == "step.waiting":
            return f"  {where} {kind} {event.name} waiting: {event.detail}"
        if event.type == "wait":
            until = event.until or time.time()
            left = max(0.0, until - time.time())
            return f"  waiting: {event.detail}, until {_clock(until)} (in {left:.1f}s)"
        if event.type == "question":
            choices = event.data.get("choices") or []
            offered = "".join(f"; {i}. {c}" for i, c in enumerate(choices, start=1))
            if event.status == "waiting":
                when = (
                    f"until {_clock(event.until)}"
                    if event.until
                    else "until it is answered (no deadline)"
                )
                qid = event.data.get("id", "?")
                return (
                    f"  waiting for a human {when}: {event.detail}{offered}. Answer with "
                    f"`harness answer {qid} TEXT` (or --choice N), `harness approve/deny "
                    f"{qid}`, or in `harness tui`"
                )
            return f"  a human is needed: {event.detail}{offered}"
        if event.type == "notice":
            where = f"session {event.session}: " if event.session is not None else ""
            return f"harness: {where}{event.detail}"
        if event.type == "policy.changed":
            return f"  s{event.session} {event.detail}"
        if event.type == "run.ended":
            report = event.data.get("report", {})
            return f"harness: run {event.run_id} ended: {report.get('outcome', '?')} · {totals}"
        return None

    def _write(self, line: str) -> None:
        if self._broken:
            return
        stream = self.stream or sys.stderr
        try:
            stream.write(line + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):
            self._broken = True  # whoever watched went away; the run goes on


def event_json(event: Event, totals: RunTotals) -> dict[str, Any]:
    """An event as one JSON object of the `harness run --json` stream."""
    out: dict[str, Any] = {"type": event.type, "ts": round(event.ts, 3)}
    if event.run_id:
        out["run_id"] = event.run_id
    if event.session is not None:
        out["session"] = event.session
    if event.seq is not None:
        out.update(seq=event.seq, kind=event.kind, name=event.name, attempt=event.attempts)
    if event.type in ("step.ended", "step.failed", "step.waiting"):
        out["duration_s"] = None if event.duration_s is None else round(event.duration_s, 4)
    if event.type == "step.ended":
        out["tokens"] = event.tokens or 0
        out["cost_usd"] = event.cost_usd or 0.0
    if event.type in ("step.ended", "session.ended", "run.ended"):
        out["run_totals"] = {"tokens": totals.tokens, "cost_usd": round(totals.cost_usd, 6)}
    if event.status and event.type not in ("step.started", "step.ended"):
        out["status"] = event.status
    if event.detail:
        out["detail"] = event.detail
    if event.until is not None:
        out["until"] = round(event.until, 3)
    if event.data:
        out.update(event.data)
    return out


class JsonStream:
    """`harness run --json`: one JSON object per event per line, flushed as it happens."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.totals = RunTotals()
        self._broken = False

    def __call__(self, event: Event) -> None:
        self.totals.see(event)
        if self._broken:
            return
        stream = self.stream or sys.stdout
        try:
            stream.write(json.dumps(event_json(event, self.totals), default=str) + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):
            self._broken = True
