"""Host code through Python's working folder or PATH: the agent writes a `harness/`
package, a `pip/` package and programs named `git`, `bwrap`, `prlimit`, `setpriv`, `sh`,
`python`, `pip` into the project (the file tools can, on every runner), and waits for the
harness to start something on the host with the project as its working folder:

- the TUI's run key (`python -m harness` in the project: `harness/__main__.py` ran on the
  host with the model key in its environment);
- the demo's own `harness` children;
- the nightly workflow from `harness ci init` (`python -m pip` in the checkout, the
  provider secrets in every step's environment);
- git, bwrap, prlimit looked up on a `PATH` with relative entries (an empty one, `.`,
  `bin`: they resolve against the working folder, which is the project).

Every planted program or module touches a canary file and exits 42: the canary must not
appear, and the real thing must have run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.cli.commands.ci import render_workflow, workflow_values
from harness.cli.demo import _harness
from tests.conftest import git

PROGRAMS = ("git", "bwrap", "prlimit", "setpriv", "sh", "python", "python3", "pip", "pgrep")
MODULES = ("harness", "pip", "runners", "artifacts")


def _plant(root: Path, canary: Path) -> None:
    """Every program name in the project's bin/ and at its top (where no package of the
    same name is), every module name as a package at the top."""
    script = f"#!/bin/sh\ntouch {canary}\nexit 42\n"
    for folder in (root, root / "bin"):
        folder.mkdir(parents=True, exist_ok=True)
        for name in PROGRAMS:
            if folder == root and name in MODULES:
                continue
            (folder / name).write_text(script)
            (folder / name).chmod(0o755)
    code = f"open({str(canary)!r}, 'w').close()\nraise SystemExit(42)\n"
    for name in MODULES:
        package = root / name
        package.mkdir(exist_ok=True)
        (package / "__init__.py").write_text(code)
        (package / "__main__.py").write_text(code)


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A git project full of planted programs and modules, as the working folder, with a
    PATH and PYTHONPATH whose relative entries resolve into it."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("a project\n")
    git(root, "add", "README.md")
    git(root, "commit", "-qm", "first")
    canary = tmp_path / "CANARY-host-code"
    _plant(root, canary)
    monkeypatch.chdir(root)
    monkeypatch.setenv("PATH", f":.:bin:{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", f".:{os.environ.get('PYTHONPATH', '')}".rstrip(":"))
    return root, canary


def test_the_tui_run_key_runs_the_real_harness(planted: tuple[Path, Path]) -> None:
    from tui.starter import RunStarter

    root, canary = planted
    code = RunStarter(root).run()
    assert not canary.exists(), "the TUI's run key ran code the agent wrote"
    assert code not in (42, -1), (root / ".harness" / "tui-run.log").read_text()[-2000:]
    log = (root / ".harness" / "tui-run.log").read_text()
    assert "harness" in log  # the real harness said why it cannot run here


def test_the_demo_s_harness_children_run_the_real_harness(planted: tuple[Path, Path]) -> None:

    root, canary = planted
    code = _harness(root, "status")
    assert not canary.exists(), "the demo ran code the agent wrote"
    assert code != 42


def test_git_bwrap_and_prlimit_are_never_found_in_the_project(
    planted: tuple[Path, Path],
) -> None:
    """In a fresh interpreter (the lookups are cached per process): hardened git, GitRepo,
    the fleet's git (in a run's clone), the local runner (prlimit) and the bubblewrap
    runner (bwrap, prlimit) from the project as working folder, with the relative PATH
    entries."""
    root, canary = planted
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "root = Path(sys.argv[1])\n"
        "from artifacts.git_safety import run_git\n"
        "assert run_git(root, 'status', '--porcelain').returncode == 0\n"
        "from artifacts.git import GitRepo\n"
        "with GitRepo.open(root) as repo:\n"
        "    assert repo.is_dirty() and repo.log(1)\n"
        "from fleet.hostgit import git as fleet_git\n"
        "fleet_git(root, 'status', '--porcelain')\n"
        "from runners.local import LocalRunner\n"
        "assert LocalRunner(root).run('echo ok').stdout == 'ok\\n'\n"
        "from runners.bwrap import bwrap_version, BubblewrapRunner\n"
        "if bwrap_version() is not None:\n"
        "    result = BubblewrapRunner(root).run('echo ok')\n"
        "    assert result.stdout == 'ok\\n', result\n"
        "print('PROBED')\n"
    )
    # -P and no relative PYTHONPATH: the probe itself must not import the planted packages.
    kept = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p.startswith("/")]
    env = {**os.environ, "PYTHONPATH": ":".join(kept)}
    done = subprocess.run(
        [sys.executable, "-P", "-c", probe, str(root)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not canary.exists(), "a program the agent wrote ran on the host"
    assert "PROBED" in done.stdout, done.stderr[-3000:]


def _workflow(spec: str) -> dict:  # type: ignore[type-arg]
    """The workflow `harness ci init --secret PROVIDER_KEY` writes, installing ``spec``."""

    args = argparse.Namespace(
        cron="17 3 * * *",
        timeout_minutes=60,
        sessions=5,
        dollars=5.0,
        python="3.12",
        install_from="durable-agent-harness==1.0",
    )
    values = workflow_values(args, ["PROVIDER_KEY"])
    values["HARNESS_SPEC"] = spec
    return yaml.safe_load(render_workflow(values))  # type: ignore[no-any-return]


def test_the_nightly_workflow_imports_nothing_from_the_checkout(
    planted: tuple[Path, Path], tmp_path: Path
) -> None:
    """The install step is run as written (its spec made `--help`, so pip runs without
    the network) in a checkout holding a `pip/` package, with `python` this interpreter."""
    root, canary = planted
    job = _workflow("--help")["jobs"]["run"]
    (install,) = [s for s in job["steps"] if s.get("name") == "Install harness"]
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)
    folder = str(install.get("working-directory", str(root)))
    folder = folder.replace("${{ runner.temp }}", str(runner_temp))
    env = {**os.environ, "PATH": f"{shims}:/usr/bin:/bin"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["bash", "-e", "-c", install["run"]],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not canary.exists(), "the workflow's pip step imported the checkout's pip package"
    assert done.returncode == 0 and "pip install" in done.stdout, done.stderr[-2000:]


def test_the_nightly_workflow_gives_secrets_only_to_the_harness_run() -> None:
    job = _workflow("durable-agent-harness==1.0")["jobs"]["run"]
    assert "PROVIDER_KEY" not in job.get("env", {})
    holders = [s.get("id") or s.get("name") for s in job["steps"] if "PROVIDER_KEY" in str(s)]
    assert holders == ["run"]
