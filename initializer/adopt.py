"""`harness adopt`: make a project of the autonomous-coding quickstart a harness project.

The quickstart keeps a flat-array `feature_list.json`, its notes in `claude-progress.txt`
and its spec in `app_spec.txt`. Adopting upgrades the feature list in place
(`artifacts.adopt`), writes `progress.md` whose first entry (session 0) holds the
quickstart's notes verbatim, writes `harness.toml` and a `.gitignore` with `.harness/`
when they are missing, keeps the spec and every other file as they are, and commits
exactly those protocol files. Passing entries stay passing as "adopted, unverified"
until a run re-verifies them (`session.reverify`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

QUICKSTART_PROGRESS = "claude-progress.txt"
QUICKSTART_SPEC = "app_spec.txt"
ADOPT_TRAILER = "Harness-Adopt"
# No model is chosen for the user: the line says how (`harness run` refuses without one).
MODEL_LINES = '# name = "anthropic/claude-sonnet-4-5"   # choose one (see README.md, "Models")'


@dataclass
class AdoptReport:
    lines: list[str] = field(default_factory=list)
    commit: str | None = None


def adopt_project(root: Path, *, config_text: str | None = None) -> AdoptReport:
    """Adopt ``root``; every step is skipped when already done (adopting twice is a no-op)."""
    from artifacts.adopt import adopt_feature_list
    from artifacts.io import atomic_write
    from session.prompt import render

    report = AdoptReport()
    result = adopt_feature_list(root)  # raises (changing nothing) on a bad entry
    report.lines.append(result.message)
    if not (root / "progress.md").exists():
        _write_progress(root, result.features)
        report.lines.append(_progress_line(root))
    if not (root / "harness.toml").exists():
        text = config_text or render("harness_toml", model_lines=MODEL_LINES)
        atomic_write(root / "harness.toml", text, root=root)
        report.lines.append("wrote harness.toml (set [model] name before `harness run`)")
    if _ignore_harness_state(root):
        report.lines.append("added .harness/ to .gitignore")
    spec = root / QUICKSTART_SPEC
    if spec.is_file():
        report.lines.append(f"kept the spec {QUICKSTART_SPEC} as it is")
    report.commit = _commit(root)
    if report.commit:
        report.lines.append(f"committed the protocol files: {report.commit[:10]}")
    return report


def _progress_line(root: Path) -> str:
    if (root / QUICKSTART_PROGRESS).is_file():
        return f"wrote progress.md: session 0 holds {QUICKSTART_PROGRESS} verbatim"
    return "wrote progress.md (session 0: adopted)"


def _write_progress(root: Path, count: int) -> None:
    from artifacts.models import ProgressEntry
    from artifacts.progress import append_progress

    notes_file = root / QUICKSTART_PROGRESS
    if notes_file.is_file():
        summary = notes_file.read_text(encoding="utf-8", errors="replace")
    else:
        summary = f"Adopted by harness: {count} features, no earlier progress notes."
    notes = [f"spec: {QUICKSTART_SPEC}"] if (root / QUICKSTART_SPEC).is_file() else []
    if notes_file.is_file():
        notes.append(f"the summary above is {QUICKSTART_PROGRESS} as the quickstart left it")
    append_progress(
        root,
        ProgressEntry(
            session=0,
            date=datetime.now(UTC).replace(microsecond=0),
            feature=None,
            outcome="adopted",
            summary=summary,
            next="Re-verify the adopted passing features, then the highest-priority "
            "failing feature.",
            notes=notes,
        ),
    )


def _ignore_harness_state(root: Path) -> bool:
    from artifacts.io import atomic_write
    from initializer.agent import GITIGNORE_LINE

    ignore = root / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if GITIGNORE_LINE in lines or ".harness" in lines:
        return False
    atomic_write(ignore, "\n".join([*lines, GITIGNORE_LINE]) + "\n", root=root)
    return True


def _commit(root: Path) -> str | None:
    """Commit the protocol files only (the user's own changes stay theirs to commit), each
    scanned and size-checked like every harness commit; what is left out is said."""
    from harness.config import load_config
    from initializer.first_commit import make_first_commit, plan_first_commit, report_left_out

    fresh = not (root / ".git").exists()
    only: tuple[str, ...] = ("feature_list.json", "progress.md", "harness.toml", ".gitignore")
    only += ("init.sh", *([QUICKSTART_SPEC] if fresh else []))
    # The project's own limits ([git] of harness.toml) and its model's key variable.
    config = load_config(root)
    chosen = plan_first_commit(root, config, only, again="harness adopt")
    report_left_out("harness adopt", chosen.excluded)
    message = (
        "harness adopt: feature_list.json upgraded, progress.md, harness.toml, .gitignore"
        f"\n\n{ADOPT_TRAILER}: 1"
    )
    return make_first_commit(
        root, config, message, chosen.paths, command="harness adopt", again="harness adopt"
    )
