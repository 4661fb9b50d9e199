"""The verifier's parts of a run: runners on clean checkouts, the evaluator, hidden paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, RunnerError
from harness.model.make import make_model
from runners.factory import make_runner
from session.verify.evaluator import Evaluator
from session.verify.hidden import exclude_locally, tracked

if TYPE_CHECKING:
    from collections.abc import Mapping

    from artifacts.config import HarnessConfig
    from artifacts.git_safety import ConfigChecks
    from harness.events import Events
    from harness.model import Accounting
    from harness.scope import RunScope
    from runners import Runner
    from session.verify.clean import RunnerFactory

KINDS = ("docker", "bwrap", "local")


def check_runners(
    config: HarnessConfig,
    runner: Runner,
    run_id: str,
    environ: Mapping[str, str] | None = None,
) -> RunnerFactory:
    """A factory of runners on clean checkouts, of the session runner's kind; ``environ``
    is what the local runner's commands start from (the run's, without its secrets).

    A run has one always: without it no check is proven on what a session commits, and a
    run could call itself complete on checks run in the agent's own work tree. A runner of
    another kind is refused (as the runner factory refuses an unknown kind), never given a
    run without a verifier."""

    kind = runner.name
    if kind not in KINDS:
        raise RunnerError(
            f"runner {kind!r} cannot run checks on a clean checkout (harness knows "
            f"{', '.join(KINDS)}): no feature could be proven on what a session commits.",
            kind="config",
            suggestion='Set runner.kind to "auto", "docker", "bwrap" or "local" in harness.toml.',
        )
    settings = config.runner.model_copy(update={"kind": kind})
    # In a check's sandbox the hidden files are there (the check needs them), read-only.
    protected = [*config.protect.paths, *config.verify.hidden]
    client = _engine_client(runner) if kind == "docker" else None

    def make(folder: Path, carry: dict[str, Path]) -> Runner:
        if kind == "local":  # not a sandbox: the carried paths are links into the project
            for relative, source in carry.items():
                target = folder / relative
                if target.is_dir():
                    target.rmdir()
                else:
                    target.unlink()
                os.symlink(source, target)
            carry = {}
        labels = {"harness.run": run_id, "harness.role": "check"}
        return make_runner(
            settings,
            folder,
            labels=labels,
            protected=protected,
            carry=carry,
            environ=environ,
            client=client,
        )

    return make


def _engine_client(runner: Runner) -> Any:
    """The session runner's Docker engine client (None for the other kinds): a check's
    runner reuses it rather than connecting anew (a new client and a ping) per checkout."""
    inner = getattr(runner, "inner", runner)  # a WaitedRunner's runner
    return getattr(inner, "client", None)


def build_evaluator(
    root: Path, config: HarnessConfig, accounting: Accounting, runner: Runner, scope: RunScope
) -> Evaluator | None:
    """The evaluator of ``[evaluator]`` (None when its mode is "off"), with the run's
    environment, events and redactor."""

    settings = config.evaluator
    if settings.mode == "off":
        return None
    model_config = config.model
    if settings.model is not None:
        model_config = config.model.model_copy(
            update={
                "name": settings.model,
                "api_base": settings.api_base,
                "api_key_env": settings.api_key_env,
            }
        )
    model = make_model(model_config, project_root=root, scope=scope)
    name = model_config.name or model.name
    return Evaluator(model, name, settings, accounting, runner.name, scope.secrets)


def prepare_hidden(
    root: Path,
    config: HarnessConfig,
    runner: Runner,
    checks: ConfigChecks | None = None,
    *,
    events: Events,
) -> None:
    """Refuse hidden paths git holds (the agent would read them through `.git`), keep git
    from listing the others, and say where they cannot be hidden."""

    hidden = config.verify.hidden
    if not hidden:
        return
    found = tracked(root, hidden, checks)
    if found:
        raise ConfigError(
            "harness.toml",
            "[verify].hidden",
            f"{', '.join(found)} is committed to git: the agent's sandbox shows `.git`, so it "
            "could read it with `git show`",
            "Remove it from git (`git rm -r --cached "
            + " ".join(found)
            + " && git commit`; older commits still hold it: rewrite the history, or choose "
            "new hidden files), or take it out of [verify] hidden.",
        )
    exclude_locally(root, hidden)
    if not runner.sandboxed:
        events.notice(
            "WARNING: the local runner cannot hide [verify] hidden paths "
            f"({', '.join(hidden)}): the agent's commands can read them."
        )
