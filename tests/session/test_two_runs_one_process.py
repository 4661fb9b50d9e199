"""Two runs of two projects in one process, in two threads, share no secret and no event.

Each run has its own model (a different name, on its own localhost HTTP server), its own
key (in its own environment, not the process's) and its own redaction set: run A declares
``ALPHA_LLM`` its key variable; run B has a variable of the same name that is nothing
secret to it. Both models try to leak: each runs ``echo`` of both variables and ends with
the key its server received. The journals, event streams, progress lines and progress.md
of each run hold only their own run, never a key; each server saw only its own key.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.cli.live import JsonStream, ProgressLines
from harness.config import load_config, run_scope
from harness.events import Events
from harness.journal.protocol import open_reader
from session.run import run_project
from tests.harness.http_fake import FakeOpenAI, Request, completion
from tests.session.support import init, make_project

KEY_A = "alpha-key-" + secrets.token_hex(12)
KEY_B = "beta-key-" + secrets.token_hex(12)
PLAIN_IN_B = "alpha-in-b-is-plain-" + secrets.token_hex(4)  # B's ALPHA_LLM: no secret to B
PROBE = 'echo "ALPHA=${ALPHA_LLM:-unset} BETA=${BETA_LLM:-unset}"'


def agent(body: dict[str, Any], request_key: str) -> dict[str, Any]:
    """A model that probes the environment, does the feature, and echoes its key."""
    turn = sum(1 for m in body.get("messages") or [] if m["role"] == "assistant")
    plan: list[dict[str, Any]] = [
        {"name": "run", "arguments": json.dumps({"command": PROBE})},
        {"name": "write_file", "arguments": json.dumps({"path": "done_a.txt", "content": "x"})},
        {"name": "verify_feature", "arguments": json.dumps({"feature": "F001"})},
        {"name": "mark_passing", "arguments": json.dumps({"feature": "F001"})},
    ]
    if turn < len(plan):
        return completion(None, [plan[turn]])
    return completion(f"Done. I was called with the key {request_key}.")


class KeyedServer(FakeOpenAI):
    """The fake server whose model answers with the key each request carried; its first
    answer waits until the other server has a request too (both runs then run side by
    side)."""

    def __init__(self, both_asked: threading.Barrier) -> None:
        super().__init__()
        self.reply = self._answer
        self._both_asked = both_asked

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if len(self.chat_requests()) == 1:
            self._both_asked.wait()
        last = self.requests[-1]  # the request being answered (appended under the lock)
        key = last.headers.get("Authorization", "").removeprefix("Bearer ")
        return agent(body, key)


@dataclass
class Watched:
    """What one run's observers saw."""

    events: list[Any] = field(default_factory=list)
    stream: io.StringIO = field(default_factory=io.StringIO)  # `--json`
    lines: io.StringIO = field(default_factory=io.StringIO)  # the progress lines


@pytest.fixture
def servers() -> Iterator[tuple[KeyedServer, KeyedServer]]:
    both_asked = threading.Barrier(2, timeout=120)
    with KeyedServer(both_asked) as a, KeyedServer(both_asked) as b:
        yield a, b


def _project(root: Path, server: FakeOpenAI, model: str, key_env: str) -> Path:
    make_project(root, count=1)
    init(root)  # the scripted initializer; the run talks HTTP
    (root / "harness.toml").write_text(
        f'[model]\nname = "openai/{model}"\napi_base = "{server.url}"\n'
        f'api_key_env = "{key_env}"\ntimeout_s = 10.0\nretry_deadline_s = 30.0\n\n'
        '[runner]\nkind = "local"\n\n[budgets]\nrun_sessions = 2\n'
    )
    return root


def _drive(root: Path, environ: dict[str, str], watched: Watched, out: dict[str, Any]) -> None:

    try:
        config = load_config(root, env=environ)
        observers = Events(
            watched.events.append, JsonStream(watched.stream), ProgressLines(watched.lines)
        )
        scope = run_scope(config, environ, events=observers)
        out["report"] = run_project(root, config, unattended=True, scope=scope)
    except BaseException as error:  # the main thread asserts on it
        out["error"] = error


def _journal_text(root: Path) -> str:
    """Every row of the journal, step inputs, outputs and errors included, as JSON text."""

    parts: list[Any] = []
    with open_reader(root / ".harness") as journal:
        parts += [run.as_json() for run in journal.runs()]
        parts += [session.as_json() for session in journal.sessions()]
        for step in journal.steps():
            detail = journal.step_detail(step.run_id, step.session, step.seq)
            parts.append(detail.as_json() if detail is not None else step.as_json())
    return json.dumps(parts, default=str)


def _sent_keys(requests: list[Request]) -> set[str]:
    return {r.headers.get("Authorization", "") for r in requests}


@pytest.mark.slow
def test_two_runs_in_two_threads_see_neither_the_others_secrets_nor_its_events(
    tmp_path: Path, servers: tuple[KeyedServer, KeyedServer]
) -> None:
    server_a, server_b = servers
    root_a = _project(tmp_path / "alpha", server_a, "model-alpha", "ALPHA_LLM")
    root_b = _project(tmp_path / "beta", server_b, "model-beta", "BETA_LLM")
    process_env = dict(os.environ)
    env_a = {**process_env, "ALPHA_LLM": KEY_A}
    env_b = {**process_env, "BETA_LLM": KEY_B, "ALPHA_LLM": PLAIN_IN_B}
    watched_a, watched_b = Watched(), Watched()
    out_a: dict[str, Any] = {}
    out_b: dict[str, Any] = {}
    threads = [
        threading.Thread(target=_drive, args=(root_a, env_a, watched_a, out_a)),
        threading.Thread(target=_drive, args=(root_b, env_b, watched_b, out_b)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    assert "error" not in out_a and "error" not in out_b, (out_a, out_b)
    report_a, report_b = out_a["report"], out_b["report"]
    assert (report_a.outcome, report_b.outcome) == ("complete", "complete"), (report_a, report_b)

    # Each model got its own name and its own key, read from its run's environment.
    assert _sent_keys(server_a.chat_requests()) == {f"Bearer {KEY_A}"}
    assert _sent_keys(server_b.chat_requests()) == {f"Bearer {KEY_B}"}
    assert {r.body["model"] for r in server_a.chat_requests()} == {"model-alpha"}
    assert {r.body["model"] for r in server_b.chat_requests()} == {"model-beta"}

    # The journals: no key; A hides its declared variable by name, B does not know it.
    text_a, text_b = _journal_text(root_a), _journal_text(root_b)
    for text in (text_a, text_b):
        assert KEY_A not in text and KEY_B not in text
    assert "[REDACTED:ALPHA_LLM]" in text_a and "ALPHA=unset BETA=unset" in text_a
    assert "[REDACTED:BETA_LLM]" in text_b and f"ALPHA={PLAIN_IN_B} BETA=unset" in text_b
    assert "REDACTED:ALPHA_LLM" not in text_b and "REDACTED:BETA_LLM" not in text_a
    assert report_b.run_id not in text_a and report_a.run_id not in text_b

    # The event streams and progress lines: each its own run's, no key in any.
    for watched, mine, other in (
        (watched_a, report_a.run_id, report_b.run_id),
        (watched_b, report_b.run_id, report_a.run_id),
    ):
        run_ids = {event.run_id for event in watched.events if event.run_id}
        assert run_ids == {mine}
        types = [event.type for event in watched.events]
        assert types[0] == "run.started" and types[-1] == "run.ended"
        assert types.count("step.ended") >= 5  # the model and tool steps of the session
        logs = watched.stream.getvalue() + watched.lines.getvalue()
        assert mine in watched.stream.getvalue() and other not in logs
        assert KEY_A not in logs and KEY_B not in logs

    # progress.md goes into git: the echoed key is hidden there too (its brackets
    # flattened, as every model word there is).
    for root, marker in ((root_a, "REDACTED:ALPHA_LLM"), (root_b, "REDACTED:BETA_LLM")):
        progress = (root / "progress.md").read_text()
        assert KEY_A not in progress and KEY_B not in progress and marker in progress

    # Neither run touched the process environment.
    assert dict(os.environ) == process_env
