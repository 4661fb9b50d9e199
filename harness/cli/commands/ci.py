"""`harness ci`: write the nightly GitHub Actions workflow, and summarise a run inside it."""

from __future__ import annotations

import argparse
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from harness.errors import ArtifactError, ConfigError, ExitCode

WORKFLOW = Path(".github") / "workflows" / "harness-nightly.yml"
PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_SECRETS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
# Exit codes after which the nightly job stays green: the run resumes the next night.
GREEN = {
    int(ExitCode.OK): ("complete", "every feature passes"),
    int(ExitCode.BUDGET_EXHAUSTED): ("budget spent", "the next run goes on from here"),
    int(ExitCode.WAITING): (
        "waiting for a human",
        "answer the pending question (`harness tui`); the next run goes on after it",
    ),
}

# Exit 4 with outcome "waiting": parked on no human (the model provider, Docker, the disk).
WAITING = (
    "waiting",
    "parked on something outside the project (the run report says what and since when); "
    "the next night's run resumes it",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ci",
        help="continuous runs: write the nightly GitHub Actions workflow",
        description="Write and support a GitHub Actions workflow that resumes the run "
        "every night within session and cost budgets.",
    )
    sub = parser.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    init = sub.add_parser(
        "init",
        help=f"write {WORKFLOW.as_posix()}",
        description=f"Write {WORKFLOW.as_posix()}: a nightly (and manual) job that restores "
        "the harness state, runs `harness run --unattended` within budgets, pushes the "
        "commits, saves the state and reports 'waiting for a human' apart from failure.",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing workflow")
    init.add_argument("--cron", default="17 3 * * *", help="schedule (default: 03:17 UTC)")
    init.add_argument(
        "--install-from",
        "--harness-spec",
        dest="install_from",
        metavar="SPEC",
        help="what the job pip-installs: a git URL (git+https://host/owner/repo@ref) or a "
        "requirement (default: this version, pinned: durable-agent-harness==VERSION)",
    )
    init.add_argument("--python", default="3.12", help="Python version (default: 3.12)")
    init.add_argument("--sessions", type=int, default=5, help="sessions per run (default 5)")
    init.add_argument("--dollars", type=float, default=5.0, help="dollars per run (default 5)")
    init.add_argument(
        "--timeout-minutes", type=int, default=180, help="job time limit (default 180)"
    )
    init.add_argument(
        "--secret",
        action="append",
        metavar="NAME",
        help="a repository secret passed as the environment variable of the same name "
        f"(repeatable; default: the config's model.api_key_env, else {', '.join(DEFAULT_SECRETS)})",
    )
    init.set_defaults(func=run_init)
    summary = sub.add_parser(
        "summary",
        help="inside the job: write the step summary and set the job's status",
        description="Write a summary of report.json to $GITHUB_STEP_SUMMARY and exit 0 for "
        "complete, budget spent or waiting for a human (with a notice), 1 otherwise.",
    )
    summary.add_argument("--report", default="report.json", help="the run report")
    summary.add_argument("--exit-code", type=int, required=True, help="`harness run`'s exit")
    summary.set_defaults(func=run_summary)


def render_workflow(values: dict[str, str]) -> str:
    """The workflow template with every `@@NAME@@` replaced; an unknown name is an error."""
    text = resources.files("templates").joinpath("ci", "harness-nightly.yml").read_text("utf-8")
    missing = sorted({m for m in PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise KeyError(f"the workflow template needs values for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _secrets(root: Path, given: list[str] | None) -> list[str]:
    names = list(given or [])
    if not names:
        try:
            from harness.config import load_config

            configured = getattr(load_config(root).model, "api_key_env", None)
        except Exception:  # no or unreadable harness.toml: the defaults will do
            configured = None
        names = [configured] if configured else list(DEFAULT_SECRETS)
    for name in names:
        if not SECRET_NAME.match(name):
            raise ConfigError(
                "--secret",
                "(flag)",
                f"{name!r} is not an environment variable name",
                "Use A-Z, 0-9, _.",
            )
    return list(dict.fromkeys(names))


def workflow_values(args: argparse.Namespace, secrets: list[str]) -> dict[str, str]:
    if not 5 <= args.timeout_minutes <= 360:
        raise ConfigError("--timeout-minutes", "(flag)", f"{args.timeout_minutes} is not in 5..360")
    if len(args.cron.split()) != 5:
        raise ConfigError(
            "--cron", "(flag)", f"{args.cron!r} needs five fields", "E.g. '17 3 * * *'."
        )
    # The harness stops itself 10 minutes before GitHub would kill the job.
    wall_s = max(60, (args.timeout_minutes - 10) * 60)
    # Only the step that runs the harness gets them (the step's `env:`, 10 spaces in).
    secret_env = "\n".join(f"          {n}: ${{{{ secrets.{n} }}}}" for n in secrets)
    return {
        "CRON": args.cron,
        "SESSIONS": str(args.sessions),
        "DOLLARS": f"{args.dollars:g}",
        "TIMEOUT_MINUTES": str(args.timeout_minutes),
        "WALL_S": str(wall_s),
        "PYTHON": args.python,
        "HARNESS_SPEC": install_spec(args.install_from),
        "RETENTION_DAYS": "14",
        "SECRET_ENV": secret_env,
    }


def install_spec(given: str | None) -> str:
    """What the nightly job installs: the user's git URL or requirement, else exactly the
    distribution and version that wrote the workflow (never a bare name on the index)."""
    from harness.cli import DISTRIBUTION, version

    if given is None:
        current = version()
        if not re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", current):
            raise ConfigError(
                "--install-from",
                "(flag)",
                f"this harness is not installed from a distribution ({current}), so the "
                "workflow cannot pin it",
                "Pass --install-from git+https://host/owner/repo@ref (or a requirement).",
            )
        return f"{DISTRIBUTION}=={current}"
    spec = given.strip()
    if spec.startswith("git+"):
        ok = re.fullmatch(r"git\+(https|ssh)://[^\s\"'`$;&|<>]+", spec) is not None
    else:
        ok = (
            re.fullmatch(
                r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?([<>=!~]=?[^\s\"'`$;&|<>]+)?",
                spec,
            )
            is not None
        )
    if not ok:
        raise ConfigError(
            "--install-from",
            "(flag)",
            f"{given!r} is neither a git+https:// (or git+ssh://) URL nor a requirement",
            "E.g. --install-from git+https://github.com/you/harness@v0.1.0",
        )
    return spec


def run_init(args: argparse.Namespace) -> int:
    root = Path(args.project).resolve()
    target = root / WORKFLOW
    if target.exists() and not args.force:
        raise ArtifactError(
            target,
            "(whole file)",
            "a workflow already exists here",
            "Pass --force to replace it with a freshly generated one.",
        )
    text = render_workflow(workflow_values(args, _secrets(root, args.secret)))
    from artifacts.io import atomic_write  # `harness --help` imports this module

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text, root=root)  # its temp file marked, a killed one's swept
    print(
        f"harness ci init: wrote {WORKFLOW.as_posix()}; add the secret(s) "
        f"{', '.join(_secrets(root, args.secret))} to the repository, then commit and push it."
    )
    return 0


def summary_text(report: dict[str, Any] | None, exit_code: int) -> tuple[str, str, bool]:
    """(markdown summary, one-line annotation, job succeeds) for a run's report."""
    title, meaning = GREEN.get(exit_code, ("failed", "the run failed; read the job log"))
    if exit_code == int(ExitCode.WAITING) and (report or {}).get("outcome") == "waiting":
        title, meaning = WAITING
    if exit_code == int(ExitCode.STUCK):
        title, meaning = "stuck", "the agent repeats itself; a human should look"
    ok = exit_code in GREEN
    lines = [f"## harness run: {title} (exit {exit_code})", "", meaning, ""]
    if report is None:
        lines.append("No run report was written (report.json is missing or unreadable).")
    else:
        lines += [
            "| | |",
            "|---|---|",
            f"| run | `{report.get('run_id', '?')}` |",
            f"| outcome | {report.get('outcome', '?')} |",
            f"| features passing | {report.get('features_passing', '?')} / "
            f"{report.get('features_total', '?')} |",
            f"| sessions | {len(report.get('sessions') or [])} |",
            f"| tokens | {report.get('tokens', 0)} |",
            f"| cost | ${float(report.get('cost_usd') or 0):.4f} |",
        ]
        if report.get("detail"):
            lines += ["", f"> {report['detail']}"]
    detail = (report or {}).get("detail") or meaning
    annotation = f"harness run: {title}: {detail}".replace("\n", " ")
    return "\n".join(lines) + "\n", annotation, ok


def run_summary(args: argparse.Namespace) -> int:
    path = Path(args.report)
    report: dict[str, Any] | None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        report = loaded if isinstance(loaded, dict) else None
    except (OSError, ValueError):
        report = None
    markdown, annotation, ok = summary_text(report, args.exit_code)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    else:
        print(markdown)
    level = "notice" if ok else "error"
    print(f"::{level} title=harness::{annotation}")
    return 0 if ok else 1
