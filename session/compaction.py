"""Compaction: older turns become a summary; the standing context is re-injected.

The summary is mechanical (which tools were called, with what outcome, and the model's
last words), so it costs no model call and is identical when a resumed session replays.
The marker line tells the scripted model how many assistant turns were folded in.
"""

from __future__ import annotations

import json
from json.encoder import (  # type: ignore[attr-defined]
    JSONEncoder,
    c_make_encoder,
    encode_basestring_ascii,
)
from typing import Any

from session.brief import project_text, standing_instructions
from session.context import WorkContext

Message = dict[str, Any]
KEEP_RECENT = 6
CHARS_PER_TOKEN = 4


# json.dumps's own C encoder, with dumps's default settings, made once: ``json_length``
# gives ``len(json.dumps(value))`` without dumps's set-up at every call (the transcript's
# size measures each message of a session, replayed or live). No circular check: a
# message is a tree.
_ENCODE = (
    c_make_encoder(
        None, JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    if c_make_encoder is not None
    else None
)


def json_length(value: Any) -> int:
    """``len(json.dumps(value))``."""
    if _ENCODE is None:
        return len(json.dumps(value))
    return sum(map(len, _ENCODE(value, 0)))


def estimate_tokens(messages: list[Message]) -> int:
    return len(json.dumps(messages)) // CHARS_PER_TOKEN


class TranscriptSize:
    """The JSON length of a transcript as it grows, each message measured once.

    Measuring the whole transcript at every turn cost O(n) per turn: 84% of a resume's
    time at 10,000 steps, and 3 ms a live step near the compaction threshold. The loop
    says from which position the transcript may have changed since the last call
    (:meth:`changed`: a replaced tail, a compaction); appended messages are new anyway.
    """

    def __init__(self) -> None:
        self._sizes: list[int] = []
        self._total = 0
        self._from = 0

    def changed(self, position: int) -> None:
        """The messages from ``position`` on may have been replaced since the last call."""
        self._from = min(self._from, position)

    def chars(self, messages: list[Message]) -> int:
        """``len(json.dumps(messages))``."""
        keep = min(self._from, len(messages), len(self._sizes))
        self._total -= sum(self._sizes[keep:])
        del self._sizes[keep:]
        for message in messages[keep:]:
            self._sizes.append(json_length(message))
            self._total += self._sizes[-1]
        self._from = len(messages)
        return self._total + 2 * max(len(messages) - 1, 0) + 2  # "[", ", " between, "]"


def needs_compaction(
    messages: list[Message], window: int, fraction: float, size: TranscriptSize | None = None
) -> bool:
    chars = size.chars(messages) if size is not None else len(json.dumps(messages))
    return chars // CHARS_PER_TOKEN > window * fraction


def compact(messages: list[Message], ctx: WorkContext, *, force: bool = False) -> list[Message]:
    """Keep the system prompt, the kickoff and the recent turns; summarise the middle."""
    head = messages[:2]
    body = messages[2:]
    keep = KEEP_RECENT if not force else KEEP_RECENT // 2
    cut = max(0, len(body) - keep)
    # Never split an assistant message from its tool results.
    while cut < len(body) and body[cut].get("role") == "tool":
        cut += 1
    old, recent = body[:cut], body[cut:]
    if not old:
        return messages if not force else head + recent[-2:]
    folded = sum(1 for m in old if m.get("role") == "assistant")
    folded += _already_folded(head + old)
    lines = [f"[harness: compacted {folded} assistant turns]", "Summary of the earlier work:"]
    for message in old:
        if message.get("role") == "assistant":
            for call in message.get("tool_calls", []):
                function = call["function"]
                lines.append(f"- called {function['name']}({function['arguments'][:160]})")
            if message.get("content"):
                lines.append(f"- said: {str(message['content'])[:300]}")
        elif message.get("role") == "tool":
            first = str(message.get("content", "")).splitlines()[:1]
            lines.append(f"  -> {first[0][:200] if first else ''}")
    lines.append(_standing_context(ctx))
    summary = {"role": "user", "content": "\n".join(lines)}
    return [*head, summary, *recent]


def _already_folded(messages: list[Message]) -> int:
    total = 0
    for message in messages:
        content = str(message.get("content") or "")
        marker = "[harness: compacted "
        if content.startswith(marker):
            total += int(content[len(marker) :].split(" ", 1)[0])
    return total


def _standing_context(ctx: WorkContext) -> str:
    """AGENTS.md, the last progress entry and the current feature, re-injected."""

    parts = []
    standing = standing_instructions(ctx.root, 4000)
    if standing:
        parts.append("Standing instructions (AGENTS.md):\n" + standing)
    progress = project_text(ctx.root, "progress.md", 3000, tail=True)
    if progress:
        parts.append("Progress file (tail):\n" + progress)
    if ctx.feature is not None:
        parts.append(f"Your feature remains {ctx.feature.id}: {ctx.feature.description}")
    return "\n\n".join(parts)
