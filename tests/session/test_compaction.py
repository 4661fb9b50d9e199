"""Compaction: the middle of the transcript becomes a mechanical summary with a marker."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from harness.model.script import turn_index
from session.compaction import (
    TranscriptSize,
    compact,
    estimate_tokens,
    json_length,
    needs_compaction,
)
from session.context import WorkContext
from tests.session.inproc import feature

Message = dict[str, Any]


def _transcript(rounds: int) -> list[Message]:
    messages: list[Message] = [
        {"role": "system", "content": "system"},
        {"role": "user", "content": "Session 1: Feature F001"},
    ]
    for i in range(rounds):
        messages.append(
            {
                "role": "assistant",
                "content": f"thinking {i}",
                "tool_calls": [
                    {
                        "id": f"c{i}",
                        "type": "function",
                        "function": {"name": "run", "arguments": json.dumps({"command": f"t{i}"})},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": f"exit code: {i}"})
    return messages


def _ctx(root: Path) -> WorkContext:
    return WorkContext(root=root, runner=None, run_id="r", session=1, feature=feature(1))  # type: ignore[arg-type]


def test_needs_compaction_at_the_fraction_of_the_window() -> None:
    messages = _transcript(10)
    tokens = estimate_tokens(messages)
    assert needs_compaction(messages, window=tokens, fraction=0.5)
    assert not needs_compaction(messages, window=tokens * 2, fraction=0.8)


def test_the_head_and_the_recent_turns_stay_and_the_middle_is_summarised(fast_path: Path) -> None:
    (fast_path / "AGENTS.md").write_text("always run the tests")
    messages = _transcript(10)
    out = compact(messages, _ctx(fast_path))
    assert out[:2] == messages[:2]
    summary = out[2]["content"]
    assert summary.startswith("[harness: compacted 7 assistant turns]")
    assert "called run(" in summary and "-> exit code: 0" in summary
    assert "always run the tests" in summary and "F001" in summary
    assert out[3:] == messages[-(len(out) - 3) :]
    assert out[3]["role"] == "assistant"  # a tool result is never cut from its call


def test_the_scripted_model_counts_folded_turns_through_the_marker(fast_path: Path) -> None:
    messages = _transcript(10)
    once = compact(messages, _ctx(fast_path))
    assert turn_index(once) == turn_index(messages) == 10
    twice = compact([*once, *_transcript(8)[2:]], _ctx(fast_path))
    assert turn_index(twice) == 18
    assert twice[2]["content"].startswith("[harness: compacted ")


def test_a_short_transcript_is_left_alone_unless_forced(fast_path: Path) -> None:
    messages = _transcript(2)
    assert compact(messages, _ctx(fast_path)) == messages
    forced = compact(messages, _ctx(fast_path), force=True)
    assert len(forced) < len(messages) and forced[:2] == messages[:2]


def test_the_standing_context_reads_no_file_outside_the_project(
    fast_path: Path, tmp_path: Path
) -> None:
    """A command may have linked AGENTS.md and progress.md to host files, or made them
    huge, sparse or not UTF-8: the summary holds none of the host's bytes, reads no file
    whole, and does not crash."""
    root = fast_path / "p"
    root.mkdir()
    host = tmp_path / "host.txt"
    host.write_text("HOST-CANARY-1")
    (root / "AGENTS.md").symlink_to(host)
    (root / "progress.md").symlink_to(host)
    out = compact(_transcript(10), _ctx(root))
    assert "HOST-CANARY-1" not in json.dumps(out)
    (root / "AGENTS.md").unlink()
    (root / "progress.md").unlink()
    (root / "AGENTS.md").write_bytes(b"\xff\xfe rules " + b"x" * 10_000)
    with (root / "progress.md").open("wb") as handle:
        handle.seek(1024 * 1024 * 1024)  # a 1 GiB hole, then the tail
        handle.write(b"last entry")
    summary = compact(_transcript(10), _ctx(root))[2]["content"]
    assert "rules" in summary  # read, cut, decoded with replacement
    assert "last entry" in summary


def test_the_transcript_size_kept_as_it_grows_is_the_whole_json_length() -> None:
    """The loop measures each message once (not the whole transcript every turn: 84% of a
    resume's time at 10,000 steps); its figure is exactly json.dumps's length through
    appends, a replaced tail (redaction) and a compaction, as the loop reports them."""

    rng = random.Random(7)
    size = TranscriptSize()
    messages: list[dict[str, object]] = []
    assert size.chars(messages) == len(json.dumps(messages))
    for turn in range(300):
        messages.append({"role": "tool", "content": "é" * rng.randrange(0, 50), "n": turn})
        if turn % 7 == 0:  # the tail replaced by new objects, as redaction does
            messages[-3:] = [dict(m, content=f"[{m['content']}]") for m in messages[-3:]]
            size.changed(len(messages) - 3)
        if turn % 50 == 49:  # compaction: a new list, some of the same objects
            messages[:] = [messages[0], {"role": "user", "content": "summary"}, *messages[-4:]]
            size.changed(0)
        assert size.chars(messages) == len(json.dumps(messages))


def test_a_message_s_length_is_json_dumps_s_for_every_kind_of_value() -> None:
    """`json_length` (json's own encoder, made once) gives what ``len(json.dumps(...))``
    gives: escapes, non-ASCII, astral and control characters, numbers, nesting, keys
    of every kind json.dumps takes; and refuses what json.dumps refuses."""
    odd = 'é 😀 \x00\x1f\x7f "q" \\ \u2028\n\t'
    values: list[object] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "run", "arguments": odd}}
            ],
        },
        {"role": "tool", "content": odd * 3, "n": [1, -2.5, 1e300, float("inf"), float("nan")]},
        {7: "int key", 2.5: "float key", False: "bool key", None: "none key", odd: odd},
        [[], {}, "", 0, False, None, [[[odd]]], 2**80],
    ]
    for value in values:
        assert json_length(value) == len(json.dumps(value))
    for refused in ({"at": object()}, {("tuple", "key"): 1}):
        with pytest.raises(TypeError):
            json.dumps(refused)
        with pytest.raises(TypeError):
            json_length(refused)
