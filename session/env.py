"""``SessionEnv``: everything a run's sessions need, built once per run
(:func:`session.wiring.build_env`) and read by the session's phases, the writeback and the
re-verification of adopted features."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from artifacts.git_safety import ConfigChecks
from harness.scope import RunScope

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from escalation import Escalation
    from harness.journal.protocol import RunJournal
    from harness.model import Accounting, Model
    from harness.tools import ToolRegistry
    from runners import Resources, Runner
    from session.context import WorkContext
    from session.verify.clean import RunnerFactory
    from session.verify.evaluator import Evaluator


@dataclass
class SessionEnv:
    """Everything a session needs, built once per run."""

    root: Path
    config: HarnessConfig
    run: RunJournal
    model: Model
    accounting: Accounting
    runner: Runner
    tools: ToolRegistry[WorkContext]
    gates: Escalation | None = None
    resources: Resources | None = None  # what workloads get unless the agent asks for more
    max_resources: Resources | None = None  # above these, a request needs a human
    scope: RunScope = field(default_factory=RunScope.of)
    """The run's environment, secrets, observers and step hooks."""
    git_checks: ConfigChecks = field(default_factory=ConfigChecks)
    """The run's verdicts of the repository's config check (run again when it changes)."""
    check_runners: RunnerFactory | None = None
    """Builds a runner on a clean checkout (the session runner's kind): with it, checks
    run on clean checkouts in fresh sandboxes and mark_passing asks for its proofs."""
    evaluator: Evaluator | None = None
    """The independent evaluator (``[evaluator]``; None: off)."""
    wall: float | None = None
    """``time.monotonic()`` at which the run's wall-time budget (``run_wall_s``) ends: each
    session's tools and commands are cut short there, not only checked between turns."""
