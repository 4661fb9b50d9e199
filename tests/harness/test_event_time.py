"""A `harness run --json` event carries when it happened, not when an observer got to
write it: a wait's `until - ts` is the wait itself, however slow the observers before the
stream (a progress line on a slow terminal, a loaded machine)."""

from __future__ import annotations

import io
import json
import time

from harness.cli.live import JsonStream
from harness.events import Event, Events


def _slow(event: Event) -> None:
    time.sleep(0.3)


def test_a_wait_s_until_minus_ts_is_the_wait_whatever_the_observers_before() -> None:
    out = io.StringIO()
    Events(_slow, JsonStream(out)).announce_wait("the provider's Retry-After", 1.0)
    (line,) = out.getvalue().splitlines()
    event = json.loads(line)
    assert event["type"] == "wait"
    assert abs(event["until"] - event["ts"] - 1.0) < 0.002, event


def test_an_event_s_ts_is_when_it_was_made() -> None:
    out = io.StringIO()
    made = time.time()
    event = Event("notice", detail="a lock cleared")
    time.sleep(0.3)
    Events(JsonStream(out)).emit(event)
    assert abs(json.loads(out.getvalue())["ts"] - made) < 0.1
