"""The tool pipeline: one door for the loop's calls and code mode's, with the same effects."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from artifacts.models import Evidence
from artifacts.progress import read_progress
from harness.journal import Journal
from harness.tools import Tool, ToolResult
from session.codemode import make_code_tool
from session.context import WorkContext
from session.cycle import run_session
from session.effects import Marked, Result, Verified
from session.sentinel import NOTICE
from session.tools.work import WORK_TOOLS
from tests.session.inproc import (
    call,
    features_on_disk,
    harnessed,
    journal_at,
    make_project,
    script,
    session_env,
    turn,
)

VERIFY_AND_MARK = 'print(verify_feature(feature="F001"))\nprint(mark_passing(feature="F001"))\n'


def _commit_subject(root: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _session(root: Path, turns: list[dict[str, Any]]) -> Any:

    env = session_env(root, script(scenes=[{"name": "F001", "turns": turns}]))
    try:
        return run_session(env, 1)
    finally:
        env.run.journal.close()


def _outcome(root: Path) -> dict[str, Any]:

    f = features_on_disk(root)["F001"]
    entry = read_progress(root)[-1]
    return {
        "passes": f["passes"],
        "evidence_step": f["evidence"]["verification"].rsplit("/", 1)[0] if f["evidence"] else None,
        "evidence_command": f["evidence"]["command"] if f["evidence"] else None,
        "progress": entry.outcome,
        "commit": _commit_subject(root),
    }


def test_mark_passing_from_code_mode_has_the_direct_calls_effect(fast_path: Path) -> None:
    """The bug: inside `code`, the sentinel reverted mark_passing's write while the session
    said passing. Through the one pipeline both paths end the same, and consistent."""
    direct = make_project(fast_path / "direct", git=True)
    via_code = make_project(fast_path / "code", git=True)
    ended = _session(
        direct,
        [
            turn(call("verify_feature", feature="F001")),
            turn(call("mark_passing", feature="F001")),
            {"text": "done"},
        ],
    )
    ended_code = _session(via_code, [turn(call("code", program=VERIFY_AND_MARK)), {"text": "done"}])
    assert ended.ending == ended_code.ending == "passing"
    want = {
        "passes": True,
        "evidence_step": None,  # compared below: the run ids differ
        "evidence_command": "test -f done.txt",
        "progress": "passing",
        "commit": "session 1: F001 passing",
    }
    for root in (direct, via_code):
        got = _outcome(root)
        assert got["evidence_step"] is not None and got["evidence_step"].startswith("journal:")
        assert {**got, "evidence_step": None} == want
    # and the evidence cites the verify_feature step, in code mode the nested one

    for root in (direct, via_code):
        ref = features_on_disk(root)["F001"]["evidence"]["verification"]
        run_id, session, seq = ref.removeprefix("journal:").split("/")[-3:]
        with Journal.open_readonly(journal_at(root)) as journal:
            step = journal.step_detail(run_id, int(session), int(seq))
        assert step is not None and (step.kind, step.name) == ("tool", "verify_feature")


class ScribbleArgs(BaseModel):
    text: str = "forged"


def scribble(ctx: WorkContext, args: ScribbleArgs) -> Result:
    """A hostile tool (stands for a shell command): rewrites feature_list.json behind the
    guards, and claims a Marked effect for a feature it has no evidence for."""
    path = ctx.root / "feature_list.json"
    data = json.loads(path.read_text())
    data["features"][0]["passes"] = True
    data["features"][0]["description"] = args.text
    path.write_text(json.dumps(data))
    return ToolResult(output="scribbled")


SCRIBBLE: Tool[WorkContext] = Tool("scribble", "rewrite the feature list", ScribbleArgs, scribble)


def _tools() -> list[Tool[WorkContext]]:

    tools = [*WORK_TOOLS, SCRIBBLE]
    return [*tools, make_code_tool(tools)]


def test_a_write_behind_the_guards_is_restored_direct_and_in_code(fast_path: Path) -> None:
    root = make_project(fast_path / "p")
    before = (root / "feature_list.json").read_bytes()
    h = harnessed(
        root,
        script(
            turn(call("scribble")),
            turn(call("code", program='scribble(text="again")\nprint("after")')),
            {"text": "done"},
        ),
        tools=_tools(),
    )
    outcome = h.run()
    h.close()
    assert outcome.ending == "done"
    assert (root / "feature_list.json").read_bytes() == before
    tool_outputs = [m["content"] for m in h.messages if m["role"] == "tool"]
    assert len(tool_outputs) == 2 and all(NOTICE in out for out in tool_outputs)
    assert h.ctx.marked == []


def test_nested_calls_are_journaled_steps_with_the_same_gates(fast_path: Path) -> None:
    root = make_project(fast_path / "p")
    h = harnessed(
        root,
        script(turn(call("code", program=VERIFY_AND_MARK)), {"text": "done"}),
        tools=_tools(),
    )
    h.run()
    steps = h.steps()
    h.close()
    assert steps == [
        ("llm", h.model.name, "ended"),
        ("tool", "code", "ended"),
        ("tool", "verify_feature", "ended"),
        ("tool", "mark_passing", "ended"),
        ("llm", h.model.name, "ended"),
    ]
    assert h.ctx.marked == ["F001"]
    assert isinstance(h.ctx.verifications["F001"], Verified)
    assert h.ctx.verifications["F001"].ref.endswith("/3")  # the nested verify step


def test_a_replayed_program_applies_its_calls_effects_again(fast_path: Path) -> None:
    """A session resumed after a finished `code` step knows what its calls did."""
    root = make_project(fast_path / "p")
    turns = script(turn(call("code", program=VERIFY_AND_MARK)), {"text": "done"})
    first = harnessed(root, turns, tools=_tools())
    first.run()
    first.close()
    again = harnessed(root, turns, tools=_tools(), run_id=first.journal.run_id)
    outcome = again.run()
    steps = again.steps()
    again.close()
    assert outcome.ending == "done"
    assert again.ctx.marked == ["F001"]
    assert again.ctx.verifications["F001"].ref == first.ctx.verifications["F001"].ref
    assert again.model.calls == 0  # every turn replayed: nothing paid twice
    assert [s for s in steps if s[2] != "ended"] == []
    assert features_on_disk(root)["F001"]["passes"] is True


def test_effects_survive_the_journal_as_typed_values(fast_path: Path) -> None:
    root = make_project(fast_path / "p")
    h = harnessed(
        root,
        script(
            turn(call("verify_feature", feature="F001")),
            turn(call("mark_passing", feature="F001")),
            {"text": "done"},
        ),
        tools=_tools(),
    )
    h.run()
    recorded = [s for s in h.store.steps(run_id=h.journal.run_id) if s.name == "mark_passing"]
    h.close()

    with Journal.open_readonly(journal_at(root)) as journal:
        detail = journal.step_detail(h.journal.run_id, 1, recorded[0].seq)
    assert detail is not None
    (effect,) = detail.output["effects"]
    assert Marked.model_validate(effect).feature == "F001"

    written = Evidence.model_validate(features_on_disk(root)["F001"]["evidence"])
    assert Evidence.model_validate(effect["evidence"]) == written


def test_a_call_whose_effects_need_no_stamp_is_not_copied(fast_path: Path) -> None:
    """The door returns the tool's own result when no effect needed the step's reference
    (every call but a verification or a decision): a result's copy was a pydantic
    model_copy a call. A verification's result still comes back stamped, live."""
    root = make_project(fast_path / "p")
    returned: list[Any] = []
    note = next(tool for tool in WORK_TOOLS if tool.name == "note")
    verify = next(tool for tool in WORK_TOOLS if tool.name == "verify_feature")

    def keep(fn: Any) -> Any:
        def kept(ctx: WorkContext, args: Any) -> Any:
            returned.append(fn(ctx, args))
            return returned[-1]

        return kept

    tools = [Tool("note", note.description, note.args, keep(note.fn)),
             Tool("verify_feature", verify.description, verify.args, keep(verify.fn))]  # fmt: skip
    h = harnessed(root, script(), tools=tools)
    try:
        noted = h.loop.pipeline.call("c1", "note", json.dumps({"text": "a note"}))
        assert noted is returned[0] and noted.effects  # the Noted effect, as the tool gave it
        verified = h.loop.pipeline.call("c2", "verify_feature", json.dumps({"feature": "F001"}))
        (effect,) = verified.effects
        assert isinstance(effect, Verified) and effect.ref.endswith("/2"), effect
        assert not returned[1].effects[0].ref  # the tool's own value, unstamped
    finally:
        h.close()
