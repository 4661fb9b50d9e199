"""The text the model reads for a command's result: exit code, output tails, failure
context. The work tools, the brief (the wake's init.sh), the verifier and the evaluator
all show commands this one way."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runners import CommandResult

TAIL_CHARS = 4_000


def render_command(result: CommandResult) -> str:
    """The text the model reads for a command: exit code, output tails, failure context."""
    parts = [f"$ {result.command}", f"exit code: {result.exit_code}"]
    if result.attempts > 1:
        parts.append(f"attempts: {result.attempts} (the runner retried after a preemption)")
    for label, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text:
            cut = text[-TAIL_CHARS:]
            note = f" (last {TAIL_CHARS} chars)" if len(text) > TAIL_CHARS else ""
            parts.append(f"--- {label}{note} ---\n{cut.rstrip()}")
    if result.note:
        parts.append(f"note: {result.note}")
    if result.failure is not None:
        failure = result.failure
        parts.append(
            f"INFRASTRUCTURE FAILURE ({failure.kind}): {failure.message}\n"
            f"suggestion: {failure.suggestion}"
        )
    return "\n".join(parts)
