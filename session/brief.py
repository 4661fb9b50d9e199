"""Orient and brief: pick the session's feature and build a fresh context from the artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifacts.git import GitRepo
from artifacts.io import resolves_outside
from artifacts.progress import read_progress
from session.command_text import render_command
from session.prompt import render
from session.verify.hidden import brief_text

if TYPE_CHECKING:
    from artifacts.git_safety import ConfigChecks
    from artifacts.models import Feature, FeatureList
    from runners import CommandResult

AGENTS_MAX_CHARS = 8_000
EXTRA_MAX_CHARS = 2_000
SUMMARY_MAX_CHARS = 2_000


def pick_feature(features: FeatureList) -> Feature | None:
    """The highest-priority failing feature (lowest priority number, then file order)."""
    failing = [f for f in features.features if not f.passes]
    return min(failing, key=lambda f: f.priority) if failing else None


def _progress_tail(root: Path, count: int = 3) -> str:

    entries = read_progress(root)[-count:]
    if not entries:
        return "(no sessions yet)"
    lines = []
    for e in entries:
        summary = e.summary
        if len(summary) > SUMMARY_MAX_CHARS:  # an adopted project's long notes, say
            more = len(summary) - SUMMARY_MAX_CHARS
            summary = summary[:SUMMARY_MAX_CHARS] + f"... ({more:,} characters more in progress.md)"
        lines.append(
            f"- session {e.session} ({e.outcome}, feature {e.feature or '-'}): {summary} "
            f"Next: {e.next}"
        )
        # Notes say what the harness refused to commit (secrets, sizes, protected paths).
        lines += [f"  - note: {note}" for note in e.notes[:8]]
    return "\n".join(lines)


def _git_log(root: Path, count: int = 8, checks: ConfigChecks | None = None) -> str:

    if not (root / ".git").exists():
        return f"(git log unavailable: {root} is not a git repository)"
    try:
        commits = GitRepo(root, checks).log(count)
    except Exception as exc:  # the brief must not fail on git: say what is wrong instead
        return f"(git log unavailable: {exc})"
    return "\n".join(f"- {c.sha[:8]} {c.summary}" for c in commits) or "(no commits)"


def _environment(wake: CommandResult | None) -> str:
    if wake is None:
        return "## Environment\ninit.sh is absent: there is nothing to bring up."
    if wake.exit_code == 0 and wake.failure is None:
        note = f"\n{wake.note}" if wake.note else ""  # where it ran, what it left
        return "## Environment\ninit.sh ran and its smoke test passed." + note

    return (
        "## ENVIRONMENT BROKEN: fix this first\n"
        "init.sh failed at wake; a broken environment is this session's first problem.\n"
        + render_command(wake)
    )


def _extra(feature: Feature) -> str:
    """The project's own fields of the feature (an adopted list's QA notes, claims...)."""

    if not feature.extra:
        return ""
    text = json.dumps(feature.extra, ensure_ascii=False)
    if len(text) > EXTRA_MAX_CHARS:
        text = text[:EXTRA_MAX_CHARS] + f"... ({len(text) - EXTRA_MAX_CHARS:,} characters more)"
    return f"The project's own fields for it (kept from its earlier list): {text}"


def build_messages(
    root: Path,
    features: FeatureList,
    feature: Feature,
    *,
    session: int,
    wake: CommandResult | None,
    runner: str,
    hidden: list[str] | None = None,
    sandboxed: bool = True,
    checks: ConfigChecks | None = None,
) -> list[dict[str, Any]]:
    """The system prompt and the kickoff message of a session: nothing from earlier contexts.
    ``checks``: the run's git config verdicts (for the git log)."""

    passing = sum(1 for f in features.features if f.passes)
    table = "\n".join(
        f"- [{'x' if f.passes else ' '}] {f.id} (p{f.priority}) {f.description}"
        for f in features.features
    )
    standing = standing_instructions(root, AGENTS_MAX_CHARS)
    agents_md = "## Standing instructions (AGENTS.md)\n" + standing if standing else ""
    kickoff = render(
        "session_kickoff",
        session=session,
        feature_id=feature.id,
        feature_description=feature.description,
        feature_category=feature.category,
        feature_steps="\n".join(f"{i}. {s}" for i, s in enumerate(feature.steps, 1)) or "-",
        feature_check=feature.check or "(none: marking it passing needs a human's approval)",
        feature_extra=_extra(feature),
        environment=_environment(wake),
        passing=passing,
        total=len(features.features),
        feature_table=table,
        progress_tail=_progress_tail(root),
        git_log=_git_log(root, checks=checks),
        agents_md=agents_md,
        hidden=brief_text(root, features.features, hidden or [], sandboxed),
    )
    return [
        {"role": "system", "content": render("session_system", runner=runner)},
        {"role": "user", "content": kickoff},
    ]


def standing_instructions(root: Path, limit: int) -> str:
    """The first ``limit`` characters of AGENTS.md, or "" when there is none to read."""
    return project_text(root, "AGENTS.md", limit)


def project_text(root: Path, name: str, limit: int, *, tail: bool = False) -> str:
    """The first (or, with ``tail``, last) ``limit`` characters of the project's file
    ``name`` for the model's context, or "" when there is none to read.

    harness reads it on the host, and any command could have replaced it: a symlink out
    of the project (to a host file, which the context would hand to the model) or into
    ``.git/`` or ``.harness/``, a FIFO, or a huge sparse file is not read whole."""

    path = root / name
    if not path.is_file() or resolves_outside(path, root) is not None:
        return ""
    inside = path.resolve().relative_to(root.resolve()).parts
    if inside and inside[0] in (".git", ".harness"):
        return ""
    try:
        with path.open("rb") as handle:  # is_file above: no FIFO; 4 bytes a character at most
            if tail:
                handle.seek(max(0, handle.seek(0, 2) - limit * 4))
            data = handle.read(limit * 4)
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return text[-limit:] if tail else text[:limit]
