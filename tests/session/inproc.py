"""In-process fixtures for the session's unit tests: the scripted model without litellm,
the fake runner, a real SQLite journal and (where a commit is asserted) a real git repo.

No subprocess but git's, no litellm: a test here takes milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifacts.config import BudgetsConfig, EscalationConfig, HarnessConfig
from artifacts.feature_list import load_feature_list, save_feature_list
from artifacts.git import GitRepo
from artifacts.models import Evidence, Feature, FeatureList
from harness.journal import Journal, Location
from harness.journal.memory import MemoryDatabase
from harness.model import Accounting
from harness.model.inprocess import ScriptedModel
from harness.model.script import Script
from harness.tools import Tool, ToolRegistry
from runners.fake import ScriptedRunner
from session.context import WorkContext
from session.env import SessionEnv
from session.loop import AgentLoop, Limits
from session.wiring import build_escalation, session_tools


def script(*turns: dict[str, Any], scenes: list[dict[str, Any]] | None = None) -> Script:
    """A script of bare turns (one scene matching everything), or of scenes."""
    if scenes is not None:
        return Script.model_validate({"scenes": scenes})
    return Script.model_validate({"turns": list(turns)})


EVIDENCE = {
    "verification": "journal:r/1/2",
    "at": "2026-12-01T00:00:00+00:00",
    "exit_code": 0,
    "output_digest": "sha256:" + "0" * 64,
}


def feature(k: int, *, check: str | None = "test -f done.txt", passes: bool = False) -> Any:
    """Feature k (priority k); a passing one carries made-up evidence."""

    return Feature(
        evidence=Evidence.model_validate(EVIDENCE) if passes else None,
        id=f"F{k:03d}",
        category="functional",
        description=f"feature number {k}",
        steps=[f"do thing {k}"],
        priority=k,
        check=check,
        passes=passes,
    )


def make_project(root: Path, *features: Any, git: bool = False) -> Path:
    """feature_list.json (and progress.md); with `git`, a repo with one commit of them."""

    root.mkdir(parents=True, exist_ok=True)
    save_feature_list(root, FeatureList(features=list(features or [feature(1)])))
    (root / "progress.md").write_text("# Progress\n")
    (root / ".gitignore").write_text(".harness/\n")
    if git:
        with GitRepo.init(root) as repo:
            repo.commit("project", trailers={})
    return root


def features_on_disk(root: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((root / "feature_list.json").read_text())
    return {f["id"]: f for f in data["features"]}


_MEMORY: dict[Path, Any] = {}


def journal_at(root: Path) -> Any:
    """The project's journal in these in-process tests: in memory (the fake store, which
    passes the same conformance suite as SQLite and PostgreSQL), one per project, kept for
    the test's resumes and reads."""

    database = _MEMORY.setdefault(root, MemoryDatabase())
    return Location(root / ".harness", memory=database)


@dataclass
class Harnessed:
    """A loop on a project, with everything a test may look at."""

    loop: AgentLoop
    ctx: WorkContext
    model: ScriptedModel
    runner: ScriptedRunner
    journal: Any  # the session's StepDoor
    store: Any  # the Journal

    def run(self, kickoff: str = "Session 1: Feature F001") -> Any:
        messages = [
            {"role": "system", "content": "you are a test"},
            {"role": "user", "content": kickoff},
        ]
        self.messages = messages
        return self.loop.run(messages)

    def steps(self) -> list[tuple[str, str, str]]:
        return [(s.kind, s.name, s.status) for s in self.store.steps(run_id=self.journal.run_id)]

    def close(self) -> None:
        self.store.close()


def harnessed(
    root: Path,
    model_script: Script,
    *,
    tools: list[Tool[WorkContext]] | None = None,
    runner: ScriptedRunner | None = None,
    limits: Limits | None = None,
    gates: Any = None,
    session: int = 1,
    run_id: str | None = None,
    on_step: Any = None,
    nudge: bool = False,
) -> Harnessed:
    """An AgentLoop over `root` with the in-process model; a fresh or resumed run.
    `nudge`: a prose-only turn gets the loop's one nudge (off: it ends the loop at once,
    so scripts about other things need no turn for it)."""

    store = Journal.open(journal_at(root))
    run = store.resume_run(run_id) if run_id else store.start_run("run")
    journal = run.session(session)

    listed = load_feature_list(root) if (root / "feature_list.json").exists() else None
    ctx = WorkContext(
        root=root,
        runner=runner or ScriptedRunner(),
        run_id=run.id,
        session=session,
        feature=listed.features[0] if listed else None,
        gates=gates,
    )
    model = ScriptedModel(model_script)
    registry = ToolRegistry(tools) if tools is not None else session_tools()
    accounting = Accounting(BudgetsConfig())
    accounting.start_session()
    loop = AgentLoop(
        journal=journal,
        model=model,
        model_name=model.name,
        tools=registry,
        ctx=ctx,
        accounting=accounting,
        limits=limits or Limits(steps=50),
        on_step=on_step,
        satisfied=None if nudge else (lambda: True),
    )
    assert isinstance(ctx.runner, ScriptedRunner)
    return Harnessed(loop, ctx, model, ctx.runner, journal, store)


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def turn(*calls: dict[str, Any], text: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"tool_calls": list(calls), **extra}
    if text:
        out["text"] = text
    return out


def session_env(
    root: Path, model_script: Script, *, runner: ScriptedRunner | None = None, gates: Any = None
) -> Any:
    """A SessionEnv for `run_session` with the in-process model and the fake runner."""

    config = HarnessConfig()
    store = Journal.open(journal_at(root))
    run_id = store.unfinished_run("run")
    run = store.resume_run(run_id) if run_id else store.start_run("run")
    return SessionEnv(
        root=root,
        config=config,
        run=run,
        model=ScriptedModel(model_script),
        accounting=Accounting(config.budgets),
        runner=runner or ScriptedRunner(),
        tools=session_tools(),
        gates=gates,
    )


def escalation(root: Path, run_id: str, *, threshold: float = 1.0) -> Any:
    """The run's Escalation, unattended (threshold 1: the matrix never escalates a turn)."""

    config = HarnessConfig(escalation=EscalationConfig(threshold=threshold))
    return build_escalation(root, config, run_id, unattended=True)
