"""`harness doctor`: check Docker, the image, git, the model settings and the journal."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from harness.cli.checks import Check
from harness.errors import ExitCode, GitError, HarnessError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check Docker, the image, git, the model settings and the journal",
        description="Check what a run needs and say what to fix (exit 0 all fine, 1 "
        "something to fix). With --probe, also send one tiny request to the model.",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="send one tiny request to the configured model: reachability, auth, latency, "
        "and whether tool calls come back (costs a few tokens)",
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.project).resolve()
    checks = diagnose(root, probe=getattr(args, "probe", False))
    failing = [c for c in checks if not c.ok and not c.warning]
    if getattr(args, "json", False):
        import json
        from dataclasses import asdict

        print(json.dumps({"ok": not failing, "checks": [asdict(c) for c in checks]}, indent=2))
        return int(ExitCode.OK if not failing else ExitCode.INVALID)
    for check in checks:
        mark = "ok  " if check.ok else ("warn" if check.warning else "FIX ")
        print(f"[{mark}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"       -> {check.fix}")
    warnings = sum(1 for c in checks if not c.ok and c.warning)
    if failing:
        print(f"{len(failing)} thing(s) to fix")
    else:
        print("all fine" + (f" ({warnings} warning(s))" if warnings else ""))
    return int(ExitCode.OK if not failing else ExitCode.INVALID)


def diagnose(root: Path, *, probe: bool = False) -> list[Check]:
    """Every check, in the order a user fixes them (`probe`: one real model request)."""
    from harness.config import load_config

    checks: list[Check] = []
    try:
        config = load_config(root)
    except HarnessError as error:
        checks.append(Check("config", False, error.message, "fix harness.toml as the message says"))
        config = None
    else:
        checks.append(Check("config", True, "harness.toml and HARNESS_* settings load"))
    checks.append(_git(root))
    if config is not None:
        docker = _docker(config.runner)
        checks.extend(docker)
        if config.runner.kind != "docker" or all(check.ok for check in docker):
            checks.append(_runner(config, root))  # the runner really in use, named
        model = _model(root, config.model)
        checks.append(model)
        if probe and model.ok:
            from harness.cli.commands.probe import probe_model

            checks.extend(probe_model(root, config.model))
    checks.append(_journal(root))
    return checks


def _docker(runner: Any) -> list[Check]:
    from runners.docker_support import check_image, connect

    soft = runner.kind != "docker"  # "auto" goes on to bubblewrap without Docker
    if runner.kind in ("local", "bwrap"):
        return [Check("docker", True, f'runner.kind = "{runner.kind}": Docker not used')]
    try:
        client = connect(timeout_s=10)
    except HarnessError as error:
        return [Check("docker", False, *_split(error), soft)]
    try:
        version = client.version().get("Version", "?")
        docker = Check("docker", True, f"engine {version} answers")
        try:
            check_image(client, runner.image)
        except HarnessError as error:
            image = Check("image", False, *_split(error), soft)
        else:
            image = Check("image", True, f"{runner.image} is present")
    finally:
        client.close()
    return [docker, image]


def _runner(config: Any, root: Path) -> Check:
    """The runner a run would really use here, built the way `harness run` builds it."""
    from runners.factory import make_runner

    try:
        runner = make_runner(
            config.runner, root, protected=config.protect.paths, hide=config.protect.hide
        )
    except HarnessError as error:
        return Check("runner", False, *_split(error))
    try:
        described = runner.describe()
    finally:
        runner.close()
    if not runner.sandboxed:
        fix = 'use runner.kind = "auto", "docker" or "bwrap" for untrusted work'
        return Check("runner", False, described, fix, warning=True)
    return Check("runner", True, described)


def _split(error: HarnessError) -> tuple[str, str]:
    """A RunnerError's message without its suggestion, and the suggestion."""
    suggestion: str = getattr(error, "suggestion", "")
    return error.message.removesuffix(suggestion).strip(), suggestion


def _git(root: Path) -> Check:
    from artifacts.git_safety import dangerous_config, git_program, run_git_unchecked

    try:
        git_program(root)
    except GitError as error:
        return Check("git", False, error.message, "install git (e.g. apt install git)")
    try:
        done = run_git_unchecked(root, "rev-parse", "--show-toplevel", check=False, timeout=30)
    except GitError as error:  # did not answer in time, or could not start
        return Check("git", False, error.message, "run `git status` there to see why")
    if done.returncode != 0:
        return Check("git", False, f"{root} is not a git repository", "run `git init` there")
    try:
        found = dangerous_config(root)
    except GitError as error:  # git could not read the config
        return Check("git", False, error.message, "run `git config --list` there to see why")
    if found:
        keys = ", ".join(f"{k.key} ({k.origin})" for k in found)
        return Check(
            "git",
            False,
            f"the repository's own git config would run a program: {keys}",
            f"remove it (git config --file {found[0].origin} --unset-all {found[0].key}) or "
            "move it to ~/.gitconfig if you trust it",
        )
    top = done.stdout.decode("utf-8", "replace").strip()
    return Check("git", True, f"repository at {top}")


def _model(root: Path, model: Any) -> Check:
    from harness.model.names import CHOOSE_A_MODEL, check_model_name

    name = model.name
    if not name:
        return Check("model", False, "no model is configured", CHOOSE_A_MODEL)
    problem = check_model_name(name, root)
    if problem:
        return Check("model", False, f"{name}: cannot work", problem)
    if name.startswith("scripted/"):
        return Check("model", True, f"{name} (scripted, offline: no key needed)")
    where = f" at {model.api_base}" if model.api_base else ""
    if model.api_key_env:
        if not os.environ.get(model.api_key_env):
            return Check(
                "model",
                False,
                f"{name}: the API key variable {model.api_key_env} is not set",
                f"export {model.api_key_env}=... ([model] api_key_env in harness.toml)",
            )
        return Check("model", True, f"{name}{where}, key in {model.api_key_env}")
    from harness.model.names import import_litellm

    try:
        missing = import_litellm().validate_environment(name).get("missing_keys") or []
    except Exception:  # litellm cannot tell
        missing = []
    if missing and not model.api_base:
        key = str(missing[0])
        return Check(
            "model",
            False,
            f"{name}: the API key variable {key} is not set",
            f"export {key}=... (or set model.api_key_env in harness.toml)",
        )
    return Check("model", True, f"{name}{where}" + (" (key variables set)" if not missing else ""))


def _journal(root: Path) -> Check:
    from harness.config import journal_location
    from harness.journal.protocol import journal_exists
    from harness.journal.verify import verify

    where = journal_location(root)
    if not journal_exists(where):
        return Check("journal", True, "no journal yet (the first `harness run` creates it)")
    report = verify(where)
    if not report.ok:
        problems = "; ".join(report.problems[:3])
        fixes = {
            "read-only": "nothing is damaged: make the project writable again",
            "key-missing": "load the state with its key (`harness state load --with-key FILE`) "
            "or copy the key file from the machine that wrote the journal",
        }
        fix = fixes.get(
            report.verdict,
            "see `harness journal verify`; restore the journal from a backup or a saved state "
            "first, and only if there is none move it aside, never delete it",
        )
        return Check("journal", False, f"{report.path}: {report.verdict}: {problems}", fix)
    return Check("journal", True, f"{report.steps} steps, {report.blobs} blobs verified")
