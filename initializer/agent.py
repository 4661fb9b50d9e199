"""`harness init`: the initializer agent writes the protocol files and the first commit.

It runs as session 0 of a run of kind "init", so a killed `harness init` resumes from its
journal like any session; a finished project is reported and left untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifacts.feature_list import FEATURE_LIST, load_feature_list
from artifacts.git import GitRepo
from artifacts.git_safety import ConfigChecks
from artifacts.gitignore import plan_gitignore
from artifacts.io import atomic_write
from artifacts.models import ProgressEntry
from harness.config import journal_location, run_scope
from harness.errors import ArtifactError, ExitCode, HarnessError
from harness.journal.protocol import open_store
from harness.model import Accounting
from harness.model.make import make_model
from harness.tools import ToolRegistry
from harness.walk import Walk
from initializer.first_commit import (
    make_first_commit,
    plan_first_commit,
    report_left_out,
    sync_first_commit,
)
from initializer.in_flight import hold_init
from initializer.tools import ACCEPTANCE_DIR, INIT_TOOLS
from runners.factory import make_runner
from runners.local import WARNING as NOT_A_SANDBOX
from session.chaos import with_hooks
from session.committable import Selection
from session.context import WorkContext
from session.loop import AgentLoop, Limits
from session.progress import record_progress
from session.prompt import render
from session.sanitize import model_text

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from harness.journal.protocol import RunJournal, StepJournal
    from harness.pidlock import PidLock
    from harness.scope import RunScope

SPEC_MAX_CHARS = 60_000
INIT_TRAILER = "Harness-Init"
PROTOCOL_FILES = ("feature_list.json", "progress.md", "init.sh", "harness.toml", ".gitignore")
# Written when the initializer's model wrote no init.sh: every harness project has one
# (`harness validate` requires it), and a session's wake runs it.
MINIMAL_INIT_SH = """#!/usr/bin/env bash
# Written by `harness init`: the initializer wrote no init.sh. harness runs this at the
# start of every session to bring the environment up and smoke-test it; a failure here is
# the session's first problem. Replace these lines with the project's own setup.
set -euo pipefail
echo "init.sh: no setup steps yet (written by harness init)"
"""


class NoFeatureList(HarnessError):
    """The initializer's model ended without writing feature_list.json: stuck (exit 5),
    like a run whose model only talks; the message says what the model did instead."""

    exit_code = ExitCode.STUCK


@dataclass
class InitReport:
    already: bool
    features: int
    commit: str | None
    detail: str = ""
    paths: list[str] | None = None  # what the commit holds, when this process synced it


def initialize(
    root: Path,
    spec: Path | None,
    config: HarnessConfig,
    *,
    config_text: str | None = None,
    scope: RunScope | None = None,
    held: PidLock | None = None,
) -> InitReport:
    """Initialise `root` from the spec, or resume an interrupted initialisation.

    ``scope``: the run's environment, secrets, observers and hooks (default: one made
    from ``os.environ`` and ``config`` now). ``held``: the init lock of ``root`` when the
    caller took it (`harness init`, before its first write); else it is taken here and
    released at the end (RunLocked, exit 6, while another process holds it)."""

    lock = held or hold_init(root)
    try:
        return _initialize(root, spec, config, config_text, scope or run_scope(config))
    finally:
        if held is None:
            lock.release()


def _initialize(
    root: Path,
    spec: Path | None,
    config: HarnessConfig,
    config_text: str | None,
    scope: RunScope,
) -> InitReport:
    root.mkdir(parents=True, exist_ok=True)
    journal = open_store(
        journal_location(root, config),
        synchronous=config.journal.synchronous,
        redactor=scope.secrets,
        events=scope.events,
    )
    pending = journal.unfinished_run("init")
    if pending is None and (root / FEATURE_LIST).exists():
        features = load_feature_list(root)  # raises a clear error if the file is broken
        return InitReport(True, len(features.features), None, "already initialised")
    if spec is None:
        raise ArtifactError("SPEC.md", "--spec", "no specification given", "Pass --spec FILE.")
    spec_text = _read_spec(spec)
    # What `harness run` needs to finish this init if it is interrupted: the spec, and the
    # harness.toml init would write (the model it was told to use).
    meta = {"spec": str(spec.resolve()), "config_text": config_text}
    run = journal.resume_run(pending) if pending else journal.start_run("init", meta)
    try:
        try:
            report = _initialise(root, spec, spec_text, config, run, config_text, scope)
        except NoFeatureList as error:
            # The model's fault, not a crash: finish this attempt, so the next `harness
            # init` asks the model again instead of replaying the same answer.
            run.finish("failed", {"detail": str(error)})
            raise
        run.finish("complete", {"features": report.features, "commit": report.commit})
        return report
    finally:
        journal.close()  # releases the run lock


def _read_spec(spec: Path) -> str:
    if not spec.is_file():
        raise ArtifactError(spec, "(whole file)", "the specification does not exist", "")
    try:
        return spec.read_text(encoding="utf-8")[:SPEC_MAX_CHARS]
    except UnicodeDecodeError as exc:
        raise ArtifactError(
            spec, f"byte {exc.start}", "not UTF-8 text", "Save it as UTF-8."
        ) from None


def _initialise(
    root: Path,
    spec: Path,
    spec_text: str,
    config: HarnessConfig,
    run: RunJournal,
    config_text: str | None,
    scope: RunScope,
) -> InitReport:

    journal = with_hooks(run.session(0), scope)
    runner = make_runner(
        config.runner,
        root,
        labels={"harness.run": run.id},
        protected=config.protect.paths,
        environ=scope.public_environ(),
        hide=config.protect.hide,
    )
    if not runner.sandboxed:
        scope.events.notice(NOT_A_SANDBOX)
    ctx = WorkContext(
        root=root, runner=runner, run_id=run.id, session=0, secret=config.protect.hide
    )
    try:
        accounting = Accounting(config.budgets)
        accounting.start_session()
        loop = AgentLoop(
            journal=journal,
            model=make_model(config.model, project_root=root, scope=scope),
            model_name=config.model.name or "",
            tools=ToolRegistry(INIT_TOOLS),
            ctx=ctx,
            accounting=accounting,
            limits=Limits(steps=config.budgets.session_steps or 10**9),
            on_step=scope.hooks,
            redactor=scope.secrets,
            satisfied=lambda: (root / FEATURE_LIST).exists(),
        )

        def brief() -> list[dict[str, Any]]:
            files = _listing(root)
            return [
                {"role": "system", "content": render("init_system")},
                {
                    "role": "user",
                    "content": render(
                        "init_kickoff",
                        spec_name=spec.name,
                        spec=spec_text,
                        files="\n".join(files[:300]) or "(empty folder)",
                    ),
                },
            ]

        # A step: a resumed init sends the brief the killed one did, not a listing of the
        # files its agent wrote since.
        messages = journal.step("artifact", "brief", {"spec": spec.name}, brief)
        outcome = loop.run(messages)
    finally:
        ctx.close()
        runner.close()
    if not (root / FEATURE_LIST).exists():
        said = outcome.detail or model_text(outcome.final_text, 200, secrets=scope.secrets)
        if outcome.ending == "done":  # answered in prose, after one nudge to use the tools
            why = (
                f"the initializer's model answered in text instead of calling its tools "
                f"(it wrote: {said!r}), so no feature_list.json was written"
            )
        else:
            why = f"the initializer's model ended ({outcome.ending}: {said}) without writing "
            why += "feature_list.json"
        raise NoFeatureList(
            f"{why}; nothing was committed. harness's agents work only through tool calls: "
            "use a model that makes them (llama.cpp's server with --jinja, vLLM with "
            "--enable-auto-tool-choice, a hosted model; `harness doctor --probe` checks), "
            "then `harness init` again asks the model again"
        )
    features = load_feature_list(root)
    count = len(features.features)
    sha, paths = _writeback(root, journal, config, config_text, outcome.final_text, count, scope)
    journal.close("complete", {"features": len(features.features), "commit": sha})
    return InitReport(False, len(features.features), sha, paths=paths)


def _listing(root: Path, most: int = 10_000) -> list[str]:
    """The project's files for the initializer's first message (it shows 300): one
    bounded walk, no link followed, not `.git/` or `.harness/`."""

    return sorted(entry.path for entry in Walk(root, limit=most, ordered=True) if entry.is_file)


def _writeback(
    root: Path,
    journal: StepJournal,
    config: HarnessConfig,
    config_text: str | None,
    plan: str,
    count: int,
    scope: RunScope,
) -> tuple[str | None, list[str]]:
    """harness.toml, .gitignore, progress entry 0, then the first commit (each checked
    first; what the commit leaves out, a secret or a too large file, is said on stderr);
    the commit and the paths it holds."""

    def write_support_files() -> list[str]:
        written = []
        toml = root / "harness.toml"
        # Not there, or as `harness init` wrote it before the initializer ran (the model's
        # lines): the file takes what the initializer decided too.
        ours = not toml.exists() or (
            config_text is not None and toml.read_text(encoding="utf-8") == config_text
        )
        if ours:
            text = config_text or render("harness_toml")
            if (root / ACCEPTANCE_DIR).is_dir() and "[protect]" not in text:
                # The initializer's acceptance tests define done: the agent may not edit them.
                text = text.rstrip("\n") + f'\n\n[protect]\npaths = ["{ACCEPTANCE_DIR}"]\n'
            atomic_write(toml, text, root=root)
            written.append("harness.toml")
        script = root / "init.sh"
        if not script.exists() and not script.is_symlink():
            atomic_write(script, MINIMAL_INIT_SH, root=root)
            os.chmod(script, 0o755)
            written.append("init.sh")
        # .harness/ and the build and cache output of the languages the project shows
        # (its files, and the tools init.sh and the feature checks call), added to the
        # user's .gitignore as bytes in its own line ending.
        texts = [
            p.read_text("utf-8", "replace")
            for p in (root / "init.sh", root / FEATURE_LIST)
            if p.is_file() and not p.is_symlink()
        ]
        if not (root / ".gitignore").is_symlink():
            new, _ = plan_gitignore(root, texts)
            if new is not None:
                atomic_write(root / ".gitignore", new, root=root)
                written.append(".gitignore")
        return written

    support: list[str] = journal.step(
        "artifact", "support-files", {}, write_support_files, output=list[str]
    )
    wrote = f"{count} features" + (", init.sh" if (root / "init.sh").exists() else "")
    said = f"The initializer wrote {wrote} (features all failing). "
    if "init.sh" in support:
        said = (
            f"The initializer wrote {count} features (all failing) and no init.sh; harness "
            "wrote a minimal init.sh for the wake, to be replaced by the project's setup. "
        )
    entry = ProgressEntry(
        session=0,
        date=datetime.now(UTC).replace(microsecond=0),
        feature=None,
        outcome="initialised",
        summary=said + model_text(plan, secrets=scope.secrets),
        next="Start with the highest-priority failing feature.",
    )
    record_progress(journal, root, entry)

    def find() -> str | None:
        if not (root / ".git").exists():
            return None
        with GitRepo.open(root) as repo:
            return repo.find_commit_with_trailer(INIT_TRAILER, "1")

    # Whether the folder was a repository before init: recorded, so a kill between `git
    # init` and the commit still commits the whole project when the init is resumed. In an
    # existing repository only the protocol files are committed: the user's own
    # uncommitted work stays theirs to commit.
    # One set of git config verdicts for init's git calls: an unchanged config is checked
    # once (each call checked it again: a `git config` child and a walk of the tree each).
    checks = ConfigChecks()
    fresh: bool = journal.step(
        "git", "fresh", {}, lambda: not (root / ".git").exists(), output=bool
    )
    only = None if fresh else (*PROTOCOL_FILES, ACCEPTANCE_DIR)
    again = "harness init --spec FILE"
    chosen: Selection = journal.step(
        "git",
        "plan",
        {"init": True},
        lambda: plan_first_commit(
            root,
            config,
            only,
            again=again,
            secrets=scope.secrets,
            say=scope.events.notice,
            checks=checks,
        ),
        output=Selection,
    )
    report_left_out(scope.events.notice, chosen.excluded)
    message = f"harness init: {wrote}, progress.md\n\n{INIT_TRAILER}: 1"

    def commit() -> str | None:
        return make_first_commit(
            root,
            config,
            message,
            chosen.paths,
            say=scope.events.notice,
            again=again,
            secrets=scope.secrets,
            sync=False,
            checks=checks,
        )

    sha: str | None = journal.step(
        "git",
        "commit",
        {"init": True},
        commit,  # type: ignore[arg-type]
        idempotent=False,
        recover=find,
        output=str | None,  # type: ignore[arg-type]
    )
    # Live, outside the step: a kill between the commit and the index sync (or inside
    # it) is made good on resume, whether the commit step replays or is recovered.
    paths = sync_first_commit(root, sha, say=scope.events.notice, checks=checks)
    return sha, paths
