"""What a resumed loop rebuilds from its journal: the transcript the model is sent, secrets
replaced, and a changed one still said.

The loop redacts each turn's new messages before the model sees them; it walks them only
when their JSON text could hold a secret (`Redactor.structure`). A replayed tool output
comes from the journal, recorded under what the run knew then: the loop's redaction is
the only one between it and the model, and the model step's input digest is over it.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from harness.journal import TranscriptChanged
from harness.redact import Redactor
from tests.session.inproc import Harnessed, call, harnessed, make_project, script, turn

QUOTED = 'hunter"2\\back-slash-9931'  # JSON text escapes it: found in its escaped form
TOKEN = "correct-horse-battery-staple-4411"
SECRETS = {"DB_PASSWORD": QUOTED, "API_TOKEN": TOKEN}
TURNS = script(
    turn(call("read_file", path="creds.txt")),
    turn(call("note", text="read it")),
    {"text": "end"},
)


@pytest.fixture
def root(fast_path: Path) -> Path:
    root = make_project(fast_path / "p")
    wrapped = base64.encodebytes(f"token={TOKEN}".encode() * 3).decode()  # 76-column lines
    (root / "creds.txt").write_text(f"password={QUOTED}\n{wrapped}")
    return root


class Crash(BaseException):
    pass


def crash_at_second_tool() -> Any:
    steps = {"n": 0}

    def on_step() -> None:
        steps["n"] += 1
        if steps["n"] == 2:
            raise Crash

    return on_step


def _sent(loop: Harnessed) -> list[str]:
    """Every transcript the loop's model is sent, as JSON text."""
    seen: list[str] = []
    complete = loop.model.complete

    def spy(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        seen.append(json.dumps(messages))
        return complete(messages, tools)

    loop.model.complete = spy  # type: ignore[method-assign]
    return seen


def _crashed(root: Path, redactor: Redactor) -> str:
    """A run killed at its second tool call (after two model turns): its run id."""
    first = harnessed(root, TURNS, on_step=crash_at_second_tool())
    first.loop.redactor = redactor
    with pytest.raises(Crash):
        first.run()
    first.close()
    return str(first.journal.run_id)


def _no_secret_in(texts: list[str]) -> None:
    for text in texts:
        assert "hunter" not in text and TOKEN not in text
        assert base64.b64encode(TOKEN.encode()).decode()[4:20] not in text.replace("\\n", "")
        assert "[REDACTED:DB_PASSWORD]" in text and "[REDACTED:API_TOKEN (base64)]" in text


def test_a_replayed_output_reaches_the_model_with_its_secrets_replaced(root: Path) -> None:
    """The recorded read_file output (the secret in its JSON-escaped form and in base64
    broken over lines) comes back from the journal at the resume; the model's first live
    call after the replay is sent it redacted, as the live run's calls were."""

    redactor = Redactor(SECRETS)
    live = harnessed(make_project(root.parent / "live"), TURNS)
    (live.ctx.root / "creds.txt").write_text((root / "creds.txt").read_text())
    live.loop.redactor = redactor
    sent_live = _sent(live)
    assert live.run().ending == "done"
    live.close()
    run_id = _crashed(root, Redactor({}))  # the first process knew no secret
    resumed = harnessed(root, TURNS, run_id=run_id)
    resumed.loop.redactor = redactor
    sent = _sent(resumed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TranscriptChanged)  # the next test's subject
        assert resumed.run().ending == "done"
    resumed.close()
    assert resumed.model.calls == 1 and len(sent) == 1  # two turns replayed, one live
    _no_secret_in(sent_live[1:] + sent)
    assert sent[0] == sent_live[-1]  # the same transcript as the run that was not killed


def test_a_changed_transcript_is_said_at_the_replayed_turn(root: Path) -> None:
    """A resume whose rebuilt transcript differs from the recorded one is told so at the
    first model turn that differs: another kickoff at turn 1; a secret the first process
    did not know, now replaced in the replayed tool output, at turn 2. The same transcript
    replays without a word."""

    run_id = _crashed(root, Redactor({}))
    same = harnessed(root, TURNS, run_id=run_id)
    same.loop.redactor = Redactor({})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same.run()
    same.close()

    run_id = _crashed(root, Redactor({}))
    other = harnessed(root, TURNS, run_id=run_id)
    with pytest.warns(TranscriptChanged, match=r"step 1 \(llm/") as told:
        other.run("Session 1: Feature F001, told otherwise")
    other.close()
    assert len(told) == 1

    run_id = _crashed(root, Redactor({}))
    known = harnessed(root, TURNS, run_id=run_id)
    known.loop.redactor = Redactor(SECRETS)
    with pytest.warns(TranscriptChanged, match=r"step 3 \(llm/") as told:
        known.run()
    known.close()
    assert len(told) == 1


def test_what_a_run_loads_before_its_first_model_call_imports_no_network_client() -> None:
    """A resume reaches its first live step without the model's client (litellm, at the
    first live model call) or Docker's (requests, urllib3: when a Docker runner is made):
    each is CPU every `harness run` on the local or bwrap runner paid before replaying."""
    code = (
        "import sys\n"
        "import harness.cli.commands.run, session.run, initializer.agent, runners.factory\n"
        "print(sorted(m for m in ('litellm', 'requests', 'urllib3', 'docker') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_run_on_the_local_runner_loads_no_sandbox_and_no_initializer_agent(
    fast_path: Path,
) -> None:
    """`harness run` on the local runner of an initialised project reaches its first live
    step without the modules of the sandboxes it did not choose (bubblewrap, Docker) or of
    the initializer agent (loaded only to finish an interrupted init): CPU every such run
    paid at its start, and every test's `harness` child with it."""
    root = make_project(fast_path / "p", git=True)
    (root / "harness.toml").write_text(
        '[model]\nname = "scripted/script.json"\n\n[runner]\nkind = "local"\n'
    )
    (root / "script.json").write_text(json.dumps({"turns": [{"text": "done"}]}))
    code = (
        "import sys, contextlib, io\n"
        "import harness.cli.live as live\n"
        "from harness.cli import main\n"
        "class FirstLive(BaseException): pass\n"
        "def stop(self, event):\n"
        "    if event.type == 'step.started': raise FirstLive\n"
        "live.JsonStream.__call__ = stop\n"
        "with contextlib.suppress(FirstLive), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({['-C', str(root), 'run', '--json']!r})\n"
        "    print('no live step', file=sys.stderr); sys.exit(3)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('runners.', 'initializer.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.replace("'", '"')))
    assert "runners.local" in loaded  # the check sees real imports
    assert not loaded & {"runners.bwrap", "runners.docker_runner", "runners.docker_support"}
    assert not loaded & {"initializer.agent", "initializer.tools", "initializer.first_commit"}


def test_a_feature_list_changed_while_the_session_replays_is_put_back(root: Path) -> None:
    """Attack: something beside the harness (a command the killed run left behind)
    rewrites feature_list.json while the resumed session replays its steps. A replayed
    step takes as known only what a guarded write of its own left; the change is put back
    at the next live tool call, which tells the model, as a live session does."""
    run_id = _crashed(root, Redactor({}))  # read_file recorded, note in flight
    legit = (root / "feature_list.json").read_text()
    forged = legit.replace('"passes": false', '"passes": true')
    assert forged != legit
    resumed = harnessed(root, TURNS, run_id=run_id)
    door = resumed.journal
    step = door.step

    def forging(kind: str, name: str, *args: Any, **kwargs: Any) -> Any:
        out = step(kind, name, *args, **kwargs)
        if name == "read_file" and door.replaying:
            (root / "feature_list.json").write_text(forged)
        return out

    door.step = forging
    assert resumed.run().ending == "done"
    resumed.close()
    assert (root / "feature_list.json").read_text() == legit
    notes = [m["content"] for m in resumed.messages if m["role"] == "tool"]
    assert "POLICY: feature_list.json was changed" in notes[-1]
