"""`harness adopt`: make a project of the autonomous-coding quickstart a harness project.

The quickstart keeps its feature list in `feature_list.json` (a flat array, or one wrapped
in an object), its notes in `claude-progress.txt` and its spec in `app_spec.txt`. Adopting
plans everything first (every file read and checked, every new byte decided: a refusal
writes nothing), then writes `progress.md` (session 0 holds the quickstart's notes),
`harness.toml`, the `.gitignore` lines (`.harness/` and a block for build and cache
output) and a minimal `init.sh` when they are missing, the upgraded `feature_list.json`
last, and commits harness's own files only: what it wrote, never a user's uncommitted
edit (`.gitignore` is committed as HEAD's version plus harness's lines). Interrupted, it
finishes on the next `harness adopt`. Passing entries stay passing as "adopted,
unverified" until a run re-verifies them (`session.reverify`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from artifacts.adopt import plan_feature_list
from artifacts.encoding import read_any
from artifacts.gitignore import plan_gitignore
from artifacts.io import atomic_write
from artifacts.models import ProgressEntry
from artifacts.progress import render_progress
from harness.config import load_config
from harness.errors import GitRefused
from initializer.adopt_commit import INIT_SH, commit_adoption
from initializer.first_commit import Say
from session.prompt import render
from session.secrets import SecretScanner

QUICKSTART_PROGRESS = "claude-progress.txt"
QUICKSTART_SPEC = "app_spec.txt"
# No model is chosen for the user: the line says how (`harness run` refuses without one).
MODEL_LINES = '# name = "anthropic/claude-sonnet-4-5"   # choose one (see README.md, "Models")'
NOTES_INLINE_MAX = 64_000
NOTES_TAIL_LINES = 40
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029]")


@dataclass
class AdoptReport:
    lines: list[str] = field(default_factory=list)
    commit: str | None = None


@dataclass
class _Plan:
    """Every byte adopting will write, decided before the first write."""

    features: str | None = None
    progress: str | None = None
    toml: str | None = None
    gitignore: bytes | None = None
    init_sh: bool = False
    lines: list[str] = field(default_factory=list)


def adopt_project(root: Path, *, say: Say, config_text: str | None = None) -> AdoptReport:
    """Adopt ``root``; every step is skipped when already done (adopting twice is a no-op).
    Raises (having written nothing) when the feature list cannot be adopted. ``say``
    hears what git needed on the way (the command's events: a progress line on stderr,
    nothing with --quiet); the report's lines are what was adopted."""
    plan = _plan(root, config_text)
    _write(root, plan)
    report = AdoptReport(lines=plan.lines)
    report.commit = _commit(root, plan, say)
    return report


def _plan(root: Path, config_text: str | None) -> _Plan:

    plan = _Plan()
    result = plan_feature_list(root)  # raises (nothing written) when it cannot be adopted
    plan.lines.append(result.message)
    plan.features = result.text if result.changed else None
    if not (root / "progress.md").exists():
        plan.progress = _progress_text(root, result.features, plan.lines)
    if not (root / "harness.toml").exists():
        plan.toml = config_text or render("harness_toml", model_lines=MODEL_LINES)
        plan.lines.append("wrote harness.toml (set [model] name before `harness run`)")
    init_sh = root / "init.sh"
    if not init_sh.exists() and not init_sh.is_symlink():
        plan.init_sh = True
        plan.lines.append(
            "wrote a minimal init.sh (the project had none; harness runs it at every "
            "session's start): put the project's setup and a smoke test in it"
        )
    texts = [init_sh.read_text("utf-8", "replace")] if init_sh.is_file() else []
    if (root / ".gitignore").is_symlink():
        plan.lines.append(".gitignore is a symlink: left as it is; add .harness/ to it yourself")
    else:
        plan.gitignore, added = plan_gitignore(root, [*texts, result.text])
        if added:
            plan.lines.append(f"added to .gitignore: {' '.join(added)}")
    if (root / QUICKSTART_SPEC).is_file():
        plan.lines.append(f"kept the spec {QUICKSTART_SPEC} as it is")
    _refuse_secrets(root, plan)
    return plan


def _refuse_secrets(root: Path, plan: _Plan) -> None:
    """A file adopt must commit that would hold a secret refuses the adoption before
    anything is written (GitRefused, exit 2), as the commit would refuse it after."""

    scanner = SecretScanner.from_config(load_config(root))
    for name, text in (("progress.md", plan.progress), ("feature_list.json", plan.features)):
        found = scanner.scan(text.encode()) if text is not None else None
        if found is not None:
            source = QUICKSTART_PROGRESS if name == "progress.md" else name
            raise GitRefused(
                f"{root / name} would hold what looks like a secret ({found}, from {source}); "
                "harness commits its protocol files only without secrets, so adopt wrote and "
                f"committed nothing. Remove the secret from {source}, then run `harness adopt` "
                "again."
            )


def _write(root: Path, plan: _Plan) -> None:
    """The planned files, the feature list last: interrupted before it, the project is
    still the quickstart's and `harness adopt` starts again; after it, the next adopt
    finds the list upgraded and makes the commit."""

    if plan.progress is not None:
        atomic_write(root / "progress.md", plan.progress, root=root)
    if plan.toml is not None:
        atomic_write(root / "harness.toml", plan.toml, root=root)
    if plan.gitignore is not None:
        atomic_write(root / ".gitignore", plan.gitignore, root=root)
    if plan.init_sh:
        atomic_write(root / "init.sh", INIT_SH, root=root)
        (root / "init.sh").chmod(0o755)
    if plan.features is not None:
        atomic_write(root / "feature_list.json", plan.features, root=root)


def _progress_text(root: Path, count: int, lines: list[str]) -> str:
    """progress.md with session 0: the quickstart's notes (decoded, each difference from
    the file's bytes said), or a pointer and their tail when they are long."""

    notes_file = root / QUICKSTART_PROGRESS
    notes = [f"spec: {QUICKSTART_SPEC}"] if (root / QUICKSTART_SPEC).is_file() else []
    if notes_file.is_file() and not notes_file.is_symlink():
        data = notes_file.read_bytes()
        decoded = read_any(data)
        text, shown = _visible(decoded.text)
        differences = decoded.differences + shown
        if len(text) <= NOTES_INLINE_MAX:
            summary = text
            how = "verbatim"
            if differences:
                how = f"as text ({'; '.join(differences)}; the file is left as it is)"
            notes.append(f"the summary above is {QUICKSTART_PROGRESS} {how}")
            lines.append(f"wrote progress.md: session 0 holds {QUICKSTART_PROGRESS} {how}")
        else:
            tail = "\n".join(text.rstrip("\n").split("\n")[-NOTES_TAIL_LINES:])
            summary = (
                f"The quickstart's notes are in {QUICKSTART_PROGRESS} ({len(data):,} bytes, "
                f"{text.count(chr(10)):,} lines), kept there as they are. Their last "
                f"{NOTES_TAIL_LINES} lines:\n\n{tail}\n"
            )
            notes.append(f"{QUICKSTART_PROGRESS} is over {NOTES_INLINE_MAX:,} characters")
            lines.append(
                f"wrote progress.md: session 0 cites {QUICKSTART_PROGRESS} ({len(data):,} "
                f"bytes, kept as it is) with its last {NOTES_TAIL_LINES} lines"
            )
    else:
        summary = f"Adopted by harness: {count} features, no earlier progress notes."
        lines.append("wrote progress.md (session 0: adopted)")
    entry = ProgressEntry(
        session=0,
        date=datetime.now(UTC).replace(microsecond=0),
        feature=None,
        outcome="adopted",
        summary=summary,
        next="Re-verify the adopted passing features, then the highest-priority failing feature.",
        notes=notes,
    )
    return render_progress([entry])


def _visible(text: str) -> tuple[str, list[str]]:
    """Control characters (not tab or newline) as visible ``\\xNN`` escapes, said."""
    found = _CONTROL.findall(text)
    if not found:
        return text, []
    shown = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
    return shown, [f"its {len(found):,} control character(s) are shown as \\xNN escapes"]


def _commit(root: Path, plan: _Plan, say: Say) -> str | None:

    wrote = {
        "feature_list.json": plan.features is not None,
        "progress.md": plan.progress is not None,
        "harness.toml": plan.toml is not None,
        "init.sh": plan.init_sh,
    }
    return commit_adoption(root, wrote, lines=plan.lines, say=say)
