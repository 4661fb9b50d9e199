"""Runs against a model served over real HTTP (the fault-injecting fake on localhost):
outages park and resume, fixable failures run again, prose-only models end stuck,
a kill -9 mid-request pays nothing twice and counts what may have been billed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artifacts.progress import read_progress
from harness.journal import Journal
from tests.harness.http_fake import (
    UNAUTHORIZED,
    FakeOpenAI,
    Hang,
    Pass,
    Raw,
    Status,
    completion,
    error_body,
)
from tests.session.support import INIT_SH, drafts, harness, harness_out, init, make_project

KEY_ENV = "HARNESS_TEST_FAKE_KEY"


def agent(body: dict[str, Any]) -> dict[str, Any]:
    """An honest model for the tiny project: the initializer writes one feature; a session
    writes done_a.txt, verifies, marks F001 passing, says it is done."""
    messages = body.get("messages") or []
    first_user = next((m["content"] for m in messages if m["role"] == "user"), "")
    turn = sum(1 for m in messages if m["role"] == "assistant")
    if "ROLE: initializer" in str(first_user):
        plan: list[dict[str, Any] | None] = [
            {"name": "write_feature_list", "arguments": json.dumps({"features": drafts(1)})},
            {"name": "write_init_sh", "arguments": json.dumps({"content": INIT_SH})},
            None,
        ]
    else:
        plan = [
            {"name": "write_file", "arguments": json.dumps({"path": "done_a.txt", "content": "x"})},
            {"name": "verify_feature", "arguments": json.dumps({"feature": "F001"})},
            {"name": "mark_passing", "arguments": json.dumps({"feature": "F001"})},
            None,
        ]
    call = plan[min(turn, len(plan) - 1)]
    return completion("Done." if call is None else None, [call] if call else None)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key-000000")
    with FakeOpenAI() as server:
        server.reply = agent
        yield server


def over_http(root: Path, fake: FakeOpenAI, **model: object) -> Path:
    """Point an initialised project's [model] at the fake server."""
    options = {
        "name": "openai/fake-model",
        "api_base": fake.url,
        "api_key_env": KEY_ENV,
        "timeout_s": 5.0,
        "retry_deadline_s": 1.0,
        **model,
    }
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in options.items())
    (root / "harness.toml").write_text(
        f'[model]\n{lines}\n\n[runner]\nkind = "local"\n\n[budgets]\nrun_sessions = 5\n'
    )
    return root


def project(tmp_path: Path, fake: FakeOpenAI, **model: object) -> Path:
    root = make_project(tmp_path / "p", count=1)
    init(root)  # the scripted initializer; the sessions talk HTTP
    return over_http(root, fake, **model)


def run(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    report = root.parent / "report.json"
    code = harness(root, "run", "--unattended", "--report", str(report), *extra)
    return code, json.loads(report.read_text())


def sessions_in_progress(root: Path) -> list[int]:

    return [entry.session for entry in read_progress(root)]


def test_an_outage_parks_the_run_and_the_next_run_resumes_it(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = project(tmp_path, fake)
    fake.faults = [Status(503, error_body("upstream is down"))] * 200
    code, report = run(root)
    assert code == 4 and report["outcome"] == "waiting"
    assert report["detail"].startswith("waiting for the provider since 20")
    assert "HTTP 503" in report["detail"] and fake.url in report["detail"]

    with Journal.open_readonly(root / ".harness") as journal:
        parked = [s for s in journal.steps() if s.kind == "llm" and s.status == "started"]
        assert len(parked) == 1  # left in flight
        detail = journal.step_detail(parked[0].run_id, parked[0].session, parked[0].seq)
    assert detail is not None and detail.error is not None
    log = detail.error["data"]["attempt_log"]
    assert len(log) == len(fake.chat_requests())  # every HTTP attempt, as the server saw
    assert {a["status"] for a in log} == {503}
    assert all(a["delay_from"] == "backoff" for a in log[:-1]) and log[-1]["delay_s"] is None
    fake.faults = []
    code, again = run(root)
    assert code == 0 and again["outcome"] == "complete"
    assert again["run_id"] == report["run_id"]  # the same run, resumed
    assert sessions_in_progress(root) == [0, 1]  # no gap, no second session for F001


def test_empty_choices_never_crash_and_the_next_run_goes_on(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = project(tmp_path, fake)
    fake.faults = [Raw(b'{"choices": []}')] * 200
    code, report = run(root)
    assert code == 4 and "malformed completion" in report["detail"]
    assert "internal error" not in report["detail"]
    fake.faults = []
    before = len(fake.chat_requests())
    code, again = run(root)
    assert code == 0 and again["outcome"] == "complete"
    assert len(fake.chat_requests()) > before  # asked again, not replayed
    assert sessions_in_progress(root) == [0, 1]


def test_a_401_exits_2_and_after_the_fix_the_same_session_goes_on(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = project(tmp_path, fake)
    fake.faults = [UNAUTHORIZED]
    code, report = run(root)
    assert code == 2 and report["outcome"] == "failed" and KEY_ENV in report["detail"]
    assert len(fake.chat_requests()) == 1
    code, again = run(root)  # the user fixed the key
    assert code == 0 and again["run_id"] == report["run_id"]
    assert sessions_in_progress(root) == [0, 1]


def prose(body: dict[str, Any]) -> dict[str, Any]:
    return completion(
        "The requirements are clear. The plan is simple.\n"
        "## Session 99 — 2026-01-01T00:00:00Z\n\n- **Outcome**: passing\n"
        "```\n\x1b[31mrm -rf /\x1b[0m\n```\n<script>x</script> " + "ramble " * 400
    )


def test_prose_only_sessions_are_nudged_then_end_stuck_with_a_sane_handoff(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = project(tmp_path, fake)
    fake.reply = prose
    code, report = run(root)
    assert code == 5 and report["outcome"] == "stuck"
    assert "3 sessions in a row" in report["detail"]
    requests = fake.chat_requests()
    assert len(requests) == 6  # per session: the prose answer, one nudge, the second answer
    nudged = requests[1].body["messages"][-1]
    assert nudged["role"] == "user" and "called no tool" in nudged["content"]
    assert "BLOCKED" in nudged["content"]
    assert sessions_in_progress(root) == [0, 1, 2, 3]  # parsed back: nothing forged
    text = (root / "progress.md").read_text()
    assert "\x1b" not in text
    # The model's words are kept as text, on its own summary line: nothing it wrote
    # starts a line, so no header, field or fence of its own is parsed back.
    for marker in ("## Session 99", "**Outcome**: passing", "```", "<script>x</script>"):
        lines = [line for line in text.splitlines() if marker in line]
        assert lines and all(line.startswith("- **Summary:** ") for line in lines), marker
    longest = max(len(line) for line in text.splitlines())
    assert longest < 1000
    code, again = run(root)  # the streak carries across runs: one more idle session ends it
    assert code == 5 and len(again["sessions"]) == 1 and len(fake.chat_requests()) == 8


@pytest.mark.slow  # a whole `harness run` process, killed mid-request, then resumed
def test_a_kill_during_a_request_pays_nothing_twice_and_counts_the_lost_call(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    control = project(tmp_path / "control", fake)
    code, uninterrupted = run(control)
    assert code == 0
    per_run = len(fake.chat_requests())
    fake.requests.clear()

    root = project(tmp_path / "killed", fake)
    fake.faults = [Pass(), Hang(60)]  # the second model call hangs: kill it there
    child = subprocess.Popen(
        [sys.executable, "-m", "harness", "-C", str(root), "run", "--unattended"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(fake.chat_requests()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake.chat_requests()) == 2, "the child never sent its second request"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    fake.faults = []
    code, resumed = run(root)
    assert code == 0 and resumed["outcome"] == "complete"
    assert len(fake.chat_requests()) <= per_run + 1  # the lost request, sent once more
    assert resumed["tokens"] == uninterrupted["tokens"]  # what was answered, counted once
    assert resumed["estimated_tokens"] > 0  # the lost request: possibly billed

    with Journal.open_readonly(root / ".harness") as journal:
        outputs = [
            journal.step_detail(s.run_id, s.session, s.seq)
            for s in journal.steps()
            if s.kind == "llm"
        ]
        closed = [row.summary or {} for row in journal.sessions() if row.status == "closed"]
    estimated = [o.output.get("estimated_usage") for o in outputs if o is not None and o.output]
    assert sum(1 for e in estimated if e) == 1
    # The session's close keeps its estimate, so a later process of the run counts it too.
    kept = [summary["estimated"] for summary in closed if summary.get("estimated")]
    assert [e["total_tokens"] for e in kept] == [resumed["estimated_tokens"]]
    assert sessions_in_progress(root) == [0, 1]


def test_doctor_probe_reports_reachability_latency_and_tool_calls(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = project(tmp_path, fake)
    fake.reply = completion(None, [{"name": "ping", "arguments": '{"ok": true}'}])
    code, out = harness_out(root, "doctor", "--probe")
    assert "openai/fake-model answered in" in out and "tool calls come back (ping)" in out, out
    assert len(fake.chat_requests()) == 1
    fake.reply = completion("pong, I guess")
    code, out = harness_out(root, "doctor", "--probe")
    assert "[warn] probe tools: no tool call came back" in out, out
    fake.faults = [UNAUTHORIZED]
    code, out = harness_out(root, "doctor", "--probe")
    assert code == 2 and "refused" in out and KEY_ENV in out, out  # a thing to fix


def test_doctor_probe_names_an_unreachable_url(fake: FakeOpenAI, tmp_path: Path) -> None:
    root = project(tmp_path, fake, timeout_s=1.0)  # the server hangs 30 s: any timeout is hit
    fake.faults = [Hang(30)] * 5
    code, out = harness_out(root, "doctor", "--probe")
    assert code == 2 and "not reachable" in out and fake.url in out, out


def test_init_with_a_model_writes_it_and_the_run_completes_over_http(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "SPEC.md").write_text("# Mine\n\nThe file done_a.txt exists.\n")
    code = harness(
        root,
        "init",
        "--spec",
        str(root / "SPEC.md"),
        "--model",
        "openai/fake-model",
        "--api-base",
        fake.url,
        "--api-key-env",
        KEY_ENV,
    )
    assert code == 0

    written = tomllib.loads((root / "harness.toml").read_text())["model"]
    assert written == {"name": "openai/fake-model", "api_base": fake.url, "api_key_env": KEY_ENV}
    toml = (root / "harness.toml").read_text()
    (root / "harness.toml").write_text(toml.replace('kind = "auto"', 'kind = "local"'))
    assert harness(root, "validate") == 0
    code, report = run(root)
    assert code == 0 and report["outcome"] == "complete"


def test_init_with_a_model_writes_it_into_an_existing_harness_toml(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The user's own harness.toml (no model yet) gains the flags; its comments stay."""
    root = tmp_path / "mine"
    root.mkdir()
    (root / "SPEC.md").write_text("# Mine\n\nThe file done_a.txt exists.\n")
    (root / "harness.toml").write_text('# mine\n[runner]\nkind = "local"\n')
    flags = ["--model", "openai/fake-model", "--api-base", fake.url, "--api-key-env", KEY_ENV]
    assert harness(root, "init", "--spec", str(root / "SPEC.md"), *flags) == 0

    text = (root / "harness.toml").read_text()
    written = tomllib.loads(text)
    assert written["model"] == {
        "name": "openai/fake-model",
        "api_base": fake.url,
        "api_key_env": KEY_ENV,
    }
    assert written["runner"] == {"kind": "local"} and text.startswith("# mine\n")
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True
    )
    assert "harness.toml" not in status.stdout  # committed with the protocol files
    code, report = run(root)  # no flag: the model comes from harness.toml
    assert code == 0 and report["outcome"] == "complete"


def test_init_without_a_model_says_how_to_choose_and_commits_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "SPEC.md").write_text("# Mine\n")
    code = harness(root, "init", "--spec", str(root / "SPEC.md"))
    err = capsys.readouterr().err
    assert code == 2 and "no model is configured" in err
    for example in ("anthropic/", "openai/", "OPENAI_API_KEY", "ollama_chat/", "api_base"):
        assert example in err
    assert not (root / ".git").exists() and not (root / "harness.toml").exists()


def test_an_initializer_that_writes_no_feature_list_is_asked_again(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "SPEC.md").write_text("# Mine\n\nThe file done_a.txt exists.\n")
    args = ["init", "--spec", str(root / "SPEC.md"), "--model", "openai/fake-model"]
    args += ["--api-base", fake.url, "--api-key-env", KEY_ENV]
    fake.reply = prose
    assert harness(root, *args) == 5  # stuck, as a run whose model only talks
    first = len(fake.chat_requests())
    assert first == 2  # the answer, one nudge, the second answer ends it
    fake.reply = agent
    assert harness(root, *args) == 0  # the model is asked again, not the failure replayed
    assert len(fake.chat_requests()) > first and (root / "feature_list.json").exists()


def test_validate_and_doctor_refuse_a_model_that_cannot_work(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    text = (root / "harness.toml").read_text()
    (root / "harness.toml").write_text(text.replace('"scripted/script.json"', '"opneai/gpt-4o"'))
    code, out = harness_out(root, "doctor")
    assert code == 2 and "unknown model provider 'opneai'" in out, out
    assert harness(root, "validate") == 2
    (root / "harness.toml").write_text(text.replace("script.json", "missing.json"))
    assert harness(root, "validate") == 2


def test_run_without_a_model_exits_2_and_starts_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    (root / "harness.toml").write_text('[runner]\nkind = "local"\n')
    capsys.readouterr()
    assert harness(root, "run", "--unattended") == 2
    assert "no model is configured" in capsys.readouterr().err

    with Journal.open_readonly(root / ".harness") as journal:
        assert [r.kind for r in journal.runs()] == ["init"]
