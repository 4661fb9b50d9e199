"""Errors that carry data, and the exit codes the CLI maps them to.

The hierarchy::

    HarnessError                     message, exit_code
    ├── ArtifactError                file, where, why, fix       (exit 2: bad input)
    │   ├── GuardViolation           an illegal feature-list transition
    │   └── ConfigError              harness.toml, HARNESS_* or a flag is wrong
    ├── GitError                     not a repo, a failed git command
    │   ├── GitRefused               a repository state or config harness will not use (exit 2)
    │   └── CommitPending            the writeback's commit could not be made yet: left in
    │       │                        flight, the next `harness run` retries it
    │       └── GitBusy              a git lock held by a live process            (exit 6)
    ├── JournalError                 the journal cannot be used
    │   ├── JournalDamaged           SQLite's own check fails, or a newer schema (never deleted)
    │   ├── JournalForged            a row fails its HMAC chain: names the step       (exit 2)
    │   ├── JournalKeyMissing        the chain's key is not on this machine           (exit 2)
    │   ├── JournalLost              .harness/ was removed or replaced under a live run (exit 2)
    │   ├── RunLocked                another live process drives this run     (exit 6)
    │   └── StepFailed               a replayed step failed with a non-harness error
    ├── ModelError                   the model gateway gave up
    │   ├── ModelFatal               400/401/403/404: a thing the user must fix
    │   ├── ContextWindowExceeded    a signal: the session compacts and goes on
    │   ├── QuotaExhausted           the provider's quota is spent: the run parks (exit 4)
    │   └── ProviderUnavailable      unreachable or failing past the deadline: parks (exit 4)
    ├── BudgetExhausted              steps, tokens, dollars or wall time        (exit 3)
    ├── RunnerError                  the runner itself cannot work (daemon, image)  (exit 4)
    ├── StorageError                 no space left, read-only storage, or the journal's
    │                                database unreachable: where, reason          (exit 4)
    └── Parked                       a step waits for a human: left in flight, run parks (exit 4)

What an error means is declared once, on its class, as a :class:`Disposition` (read by the
journal for the step, the tool registry for the model, and ``harness run`` for the run's
outcome); the exit code is the class's ``exit_code``. Exit 4 (``ExitCode.WAITING``) means
the run waits for something (a human's answer, the provider, the disk, Docker, the
database) and says what in its message; the next ``harness run`` goes on from the step.

This module imports nothing of ours, so every package may use it.
Infrastructure failures of a *command* (OOM, time limit) are not exceptions: they are
results the agent reads (see ``runners``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import ClassVar, Literal


class ExitCode(IntEnum):
    """Process exit codes of every harness command (documented in README.md)."""

    OK = 0
    FAILED = 1
    INVALID = 2
    BUDGET_EXHAUSTED = 3
    WAITING = 4  # for a human, the provider, the disk, Docker or the database: the message says
    STUCK = 5
    BUSY = 6
    INTERRUPTED = 130


Outcome = Literal[
    "complete", "budget_exhausted", "waiting_for_human", "waiting", "stuck", "failed", "interrupted"
]
"""How a run ends (``harness run``'s report); the exit code of each is in session/run.py."""


@dataclass(frozen=True)
class Disposition:
    """What an error means for the step it happens in, the model and the run."""

    in_flight: bool = False
    """The step is left in flight (no end recorded): the next run runs it again. Else the
    step is recorded failed."""
    replay: bool = False
    """A recorded failure of this kind is a decision (a spent budget, a compaction signal)
    and replays as it was. Else a failure that ended its session's record runs again on
    resume: a git, storage, memory or model fault, or a bug, may not recur."""
    for_model: bool = True
    """Raised inside a tool call, the model reads it as the tool's error. Else it stops the
    run: the model cannot fix it (a wait, a spent budget, a refused repository)."""
    outcome: Outcome = "failed"
    """The run's outcome when it stops the run."""
    resumable: bool = False
    """The run stays open when it stops: the next ``harness run`` goes on from the step."""
    halts: bool = False
    """The journal cannot be trusted or used: stop at once, writing nothing more."""
    waits_for: str = ""
    """What a run that stops on it waits for, added to the run's detail (exit 4) where its
    message does not say it already."""


FAILED = Disposition()


def _waits(what: str) -> Disposition:
    return Disposition(in_flight=True, for_model=False, outcome="waiting", resumable=True,
                       waits_for=what)  # fmt: skip


def disposition(error: BaseException) -> Disposition:
    """The disposition of any error: its class's, else that of an unexpected error."""
    if isinstance(error, HarnessError):
        return error.disposition
    return FAILED


class HarnessError(Exception):
    """Base of every error harness raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILED
    disposition: ClassVar[Disposition] = FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ArtifactError(HarnessError):
    """A protocol file is unreadable or invalid; names the file, the place and the reason."""

    exit_code = ExitCode.INVALID

    def __init__(self, file: Path | str, where: str, why: str, fix: str = "") -> None:
        self.file = str(file)
        self.where = where or "(whole file)"
        self.why = why
        self.fix = fix
        text = f"{self.file}: at {self.where}: {why}."
        if fix:
            text += fix if fix.startswith("\n") else f" {fix}"
        text += " The file was left unchanged."
        super().__init__(text)


class GuardViolation(ArtifactError):
    """A change to feature_list.json that the protocol forbids."""


class ConfigError(ArtifactError):
    """Configuration from harness.toml, the environment or a flag is wrong."""


class GitError(HarnessError):
    """A git operation failed or the repository is in a state harness cannot use."""

    disposition = Disposition(resumable=True)


class GitRefused(GitError):
    """The repository is mid-rebase/merge/..., on a detached HEAD, or its config would run a
    program: refused before any work is paid for."""

    exit_code = ExitCode.INVALID
    disposition = Disposition(in_flight=True, for_model=False, resumable=True)


class CommitPending(GitError):
    """The writeback's commit did not happen (yet); the step stays in flight and the next
    run retries it, so a verified result is never lost to a failed commit."""

    disposition = Disposition(in_flight=True, for_model=False, resumable=True)


class GitBusy(CommitPending):
    """A git lock file belongs to a live process."""

    exit_code = ExitCode.BUSY


class JournalError(HarnessError):
    """The journal cannot be opened or written."""

    disposition = Disposition(for_model=False)


class JournalDamaged(JournalError):
    """The journal file is damaged or from a newer harness; it is never deleted."""

    exit_code = ExitCode.INVALID
    disposition = Disposition(for_model=False, halts=True)


class JournalForged(JournalError):
    """A journal row does not match its HMAC chain: written or reordered outside harness.

    ``step`` names it as ``run/session/seq``; nothing was replayed from it or written.
    """

    exit_code = ExitCode.INVALID
    disposition = Disposition(for_model=False, halts=True)

    def __init__(self, message: str, *, step: str = "", what: str = "") -> None:
        self.step = step
        self.what = what
        super().__init__(message)


class JournalKeyMissing(JournalError):
    """The key that signs a journal's chain is not in this machine's state directory."""

    exit_code = ExitCode.INVALID
    disposition = Disposition(for_model=False, halts=True)

    def __init__(self, message: str, *, journal_id: str = "", key_path: str = "") -> None:
        self.journal_id = journal_id
        self.key_path = key_path
        super().__init__(message)


class JournalLost(JournalError):
    """The journal file a run writes was removed or replaced while it ran."""

    exit_code = ExitCode.INVALID
    disposition = Disposition(for_model=False, halts=True)


class RunLocked(JournalError):
    """Another live process drives this run."""

    exit_code = ExitCode.BUSY
    disposition = Disposition(for_model=False, halts=True)


class StepFailed(JournalError):
    """A replayed step had failed with an error harness cannot rebuild: its class and message."""

    disposition = FAILED

    def __init__(
        self, error_class: str, message: str, data: dict[str, object] | None = None
    ) -> None:
        self.error_class = error_class
        self.data = dict(data or {})
        super().__init__(f"{error_class}: {message}")
        self.message = message

    def __str__(self) -> str:
        return f"{self.error_class}: {self.message}"


class ModelError(HarnessError):
    """The model gateway gave up on a call."""

    disposition = Disposition(for_model=False)


class ModelFatal(ModelError):
    """A model error no retry can fix (bad request, auth, permission, unknown model)."""

    exit_code = ExitCode.INVALID
    disposition = Disposition(in_flight=True, for_model=False, resumable=True)


class ContextWindowExceeded(ModelError):
    """The prompt no longer fits the model's context window: compact and retry."""

    disposition = Disposition(replay=True, for_model=False)


class QuotaExhausted(ModelError):
    """The provider's quota is spent: the run parks until a human tops it up."""

    exit_code = ExitCode.WAITING
    disposition = _waits("the provider's quota")


class ProviderUnavailable(ModelError):
    """The provider stayed unreachable or failing past `[model] retry_deadline_s`.

    The run parks (exit 4, outcome ``waiting``) with the model step left in flight: the
    next ``harness run`` sends the same request again. ``since`` is when the failures began
    (ISO 8601, UTC), ``what`` the last failure in words.
    """

    exit_code = ExitCode.WAITING
    disposition = _waits("")  # its message says "waiting for the provider since ..."

    def __init__(self, message: str, *, since: str = "", what: str = "") -> None:
        self.since = since
        self.what = what
        super().__init__(message)


class BudgetExhausted(HarnessError):
    """A configured budget (steps, tokens, dollars, wall time) is spent."""

    exit_code = ExitCode.BUDGET_EXHAUSTED
    disposition = Disposition(replay=True, for_model=False, outcome="budget_exhausted")

    def __init__(self, budget: str, limit: float, used: float) -> None:
        self.budget = budget
        self.limit = limit
        self.used = used
        super().__init__(f"budget {budget} exhausted: used {used:g} of {limit:g}")


class RunnerError(HarnessError):
    """The runner cannot run anything (Docker daemon unreachable, image missing).

    The run parks (exit 4) rather than failing: nothing is lost, and the next
    ``harness run`` once the engine is back goes on from the same step.
    """

    exit_code = ExitCode.WAITING
    disposition = _waits("the runner")

    def __init__(self, message: str, *, kind: str, suggestion: str = "") -> None:
        self.kind = kind
        self.suggestion = suggestion
        super().__init__(f"{message} {suggestion}".strip())


class StorageError(HarnessError):
    """The disk under the project is full or read-only, or the journal's database server is
    unreachable: named as such, never as damage.

    The run stops resumable (exit 4, outcome ``waiting``): once space is freed, the file
    system is writable again or the server is back, ``harness run`` goes on from the step.
    """

    exit_code = ExitCode.WAITING
    disposition = _waits("storage")

    def __init__(self, path: Path | str, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason  # "full", "read-only" or "unreachable"
        self.detail = detail
        if reason == "full":
            text = f"no space left on {self.path}"
            fix = "free some space, then `harness run` resumes from the same step"
        elif reason == "unreachable":
            text = f"the journal's database {self.path} is unreachable"
            fix = "once it is back, `harness run` resumes from the same step"
        else:
            text = f"{self.path} is read-only"
            fix = "make it writable (e.g. remount it read-write), then `harness run` resumes"
        if detail:
            text += f" ({detail})"
        super().__init__(f"{text}: {fix}; nothing was lost")


class Parked(HarnessError):
    """A step that needs a human's answer that is not there yet.

    The journal leaves such a step in flight (no ended row), so the next `harness run`
    runs it again, and by then the answer may be there.
    """

    exit_code = ExitCode.WAITING
    disposition = Disposition(
        in_flight=True, for_model=False, outcome="waiting_for_human", resumable=True
    )  # its message says "waiting for a human: question ..."

    def __init__(self, question_id: str, text: str) -> None:
        self.question_id = question_id
        super().__init__(f"waiting for a human: question {question_id}: {text}")
