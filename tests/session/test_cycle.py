"""run_session as its phases (wake, orient, work, writeback), in process: the steps and
their order, the endings, a tampering init.sh, and a resume after a crash mid-session."""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from runners import CommandResult
from runners.fake import ScriptedRunner
from session.cycle import run_session
from tests.session.inproc import (
    call,
    escalation,
    feature,
    features_on_disk,
    make_project,
    script,
    session_env,
    turn,
)

GOOD = [
    turn(call("verify_feature", feature="F001")),
    turn(call("mark_passing", feature="F001")),
    turn(call("note", text="F001 done")),
    {"text": "done"},
]


def _steps(env: Any) -> list[tuple[str, str]]:
    return [(s.kind, s.name) for s in env.run.journal.steps(run_id=env.run.id) if s.session == 1]


def _commits(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(root), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def _session(root: Path, turns: list[dict[str, Any]], **options: Any) -> tuple[Any, Any]:
    """One session; the env, the outcome, the steps and the session rows (journal closed)."""
    env = session_env(root, script(scenes=[{"name": "F001", "turns": turns}]), **options)
    try:
        outcome = run_session(env, 1)
        return env, (outcome, _steps(env), env.run.journal.sessions(env.run.id))
    finally:
        env.run.journal.close()


def test_the_phases_make_their_steps_in_order(fast_path: Path) -> None:
    root = make_project(fast_path / "p", git=True)
    (root / "init.sh").write_text("echo up\n")
    env, (outcome, steps, sessions) = _session(root, GOOD)
    llm = env.config.model.name or env.model.name  # the step is named after the model
    assert steps == [
        ("git", "snapshot"),  # the user's uncommitted files at wake
        ("git", "feature list"),  # the one the session starts from, kept as a git object
        ("runner", "wake:init.sh"),
        ("artifact", "orient"),
        ("artifact", "brief"),  # recorded: a resumed session sends the same one
        ("llm", llm),
        ("tool", "verify_feature"),
        ("llm", llm),
        ("tool", "mark_passing"),
        ("llm", llm),
        ("tool", "note"),
        ("llm", llm),
        ("git", "plan"),  # what the commit takes and leaves out
        ("artifact", "progress.append"),
        ("git", "commit"),
    ]
    assert (outcome.ending, outcome.feature) == ("passing", "F001")
    assert outcome.commit is not None and _commits(root)[0] == "session 1: F001 passing"
    assert [(s.number, s.status) for s in sessions] == [(1, "closed")]


def test_nothing_failing_is_complete_without_a_model_call(fast_path: Path) -> None:
    root = make_project(fast_path / "p", git=True)
    _, (first, _, _) = _session(root, GOOD)  # session 1 passes F001, with real evidence
    assert first.ending == "passing"
    env = session_env(root, script(scenes=[{"name": "F001", "turns": GOOD}]))
    try:
        outcome = run_session(env, 2)
        steps = [
            (s.kind, s.name) for s in env.run.journal.steps(run_id=env.run.id) if s.session == 2
        ]
    finally:
        env.run.journal.close()
    assert outcome.ending == "complete" and outcome.feature is None
    assert steps == [("git", "snapshot"), ("git", "feature list"), ("artifact", "orient")]
    assert env.model.calls == 0
    assert _commits(root) == ["session 1: F001 passing", "project"]


def test_a_parked_session_stays_open_and_writes_nothing_back(fast_path: Path) -> None:
    root = make_project(fast_path / "p", feature(1, check=None), git=True)
    env = session_env(
        root,
        script(scenes=[{"name": "F001", "turns": [turn(call("mark_passing", feature="F001"))]}]),
    )
    env.gates = escalation(root, env.run.id)
    outcome = run_session(env, 1)
    sessions = env.run.journal.sessions(env.run.id)
    env.gates.close()
    env.run.journal.close()
    assert outcome.ending == "parked" and "waiting for a human" in outcome.detail
    assert [s.status for s in sessions] == ["open"]
    assert _commits(root) == ["project"]
    assert "session 1" not in (root / "progress.md").read_text().lower()


class TamperingRunner(ScriptedRunner):
    """init.sh that forges the feature list (a hostile environment script)."""

    def run(self, command: str, **options: Any) -> CommandResult:
        if "init.sh" in command:
            path = Path(self.root) / "feature_list.json"
            data = json.loads(path.read_text())
            data["features"][0]["description"] = "reworded by init.sh"
            path.write_text(json.dumps(data))
        return super().run(command, **options)


def test_what_init_sh_does_to_the_feature_list_is_undone_and_said(fast_path: Path) -> None:
    root = make_project(fast_path / "p", git=True)
    (root / "init.sh").write_text("echo up\n")
    runner = TamperingRunner()
    runner.root = str(root)  # type: ignore[attr-defined]
    _, (outcome, _, _) = _session(root, GOOD, runner=runner)
    assert outcome.ending == "passing"
    assert features_on_disk(root)["F001"]["description"] == "feature number 1"
    assert "init.sh changed feature_list.json at wake" in (root / "progress.md").read_text()


def test_a_session_killed_mid_call_resumes_to_the_same_end(fast_path: Path) -> None:
    class Killed(BaseException):
        pass

    root = make_project(fast_path / "p", git=True)
    turns = script(scenes=[{"name": "F001", "turns": GOOD}])
    env = session_env(root, turns)
    count = {"n": 0}

    class DieInMark:
        """Step hooks that die in the second live tool call: mark_passing."""

        def __call__(self) -> None:
            count["n"] += 1
            if count["n"] == 2:
                raise Killed

        def wrap(self, kind: str, name: str, fn: Any) -> Any:
            return fn

    env.scope = replace(env.scope, hooks=DieInMark())
    with contextlib.suppress(Killed):
        run_session(env, 1)
    env.run.journal.close()
    again = session_env(root, turns)
    outcome = run_session(again, 1)
    steps = _steps(again)
    again.run.journal.close()
    assert outcome.ending == "passing"
    assert again.model.calls == 2  # the turns after the recorded ones
    assert [name for _, name in steps].count("commit") == 1
    assert _commits(root) == ["session 1: F001 passing", "project"]
    assert (root / "progress.md").read_text().count("F001 done") == 1
