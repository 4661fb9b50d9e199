"""Conventions users bring from git, Claude Code, Codex and Aider: `-c key=value` for one
command, `config --set` that writes (and `--dry-run`), a user-level config under the
project's, ./SPEC.md by default, `-C` anywhere, `run --resume RUN_ID`."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from escalation.questions import QuestionStore
from harness.cli import main
from harness.cli.commands.run import headline
from harness.config import resolve_config
from tests.session.support import harness, harness_out, init, make_project


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_set_writes_keeping_comments_and_dry_run_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "harness.toml"
    toml.write_text('# my settings\n[model]\nname = "openai/x"  # the model\n\n[budgets]\n')
    code, out, err = run_cli(
        capsys, "-C", str(tmp_path), "config", "--set", "budgets.run_sessions=3", "--dry-run"
    )
    assert code == 0 and "run_sessions = 3" in out and "not written" in err
    assert "run_sessions" not in toml.read_text()
    code, out, _ = run_cli(
        capsys, "-C", str(tmp_path), "config", "--set", "budgets.run_sessions=3",
        "--set", "escalation.gates.network=false", "--set", "model.temperature=0.2",
    )  # fmt: skip
    assert code == 0 and "budgets.run_sessions = 3 written to" in out
    text = toml.read_text()
    assert text.startswith("# my settings\n") and "# the model" in text
    data = tomllib.loads(text)
    assert data["budgets"]["run_sessions"] == 3 and data["model"]["temperature"] == 0.2
    assert data["escalation"]["gates"]["network"] is False
    before = toml.read_bytes()
    code, _, err = run_cli(capsys, "-C", str(tmp_path), "config", "--set", "runner.cpus=lots")
    assert code == 2 and toml.read_bytes() == before


def test_the_user_config_is_under_the_project_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], user_config_home: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    code, _out, _ = run_cli(
        capsys, "-C", str(project), "config", "--user", "--set", "budgets.run_sessions=9",
        "--set", "runner.kind=local",
    )  # fmt: skip
    assert code == 0
    assert (user_config_home / "harness" / "config.toml").is_file()
    (project / "harness.toml").write_text("[budgets]\nrun_sessions = 4\n")
    resolved = resolve_config(project, env={"XDG_CONFIG_HOME": str(user_config_home)})
    assert resolved.config.budgets.run_sessions == 4  # the project's file wins
    assert resolved.sources["budgets.run_sessions"] == "file"
    assert resolved.config.runner.kind == "local" and resolved.sources["runner.kind"] == "user"
    (user_config_home / "harness" / "config.toml").write_text("[runner]\nkind = 3\n")
    code, _, err = run_cli(capsys, "-C", str(project), "config")
    assert code == 2 and "config.toml" in err


def test_dash_c_sets_a_value_for_one_run_and_dash_capital_c_goes_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p", count=2)
    init(root)
    report = tmp_path / "r.json"
    code = main(["run", "-C", str(root), "-c", "budgets.run_sessions=1", "--report", str(report)])
    assert code == 3, capsys.readouterr().err  # one session allowed: the budget is spent
    assert len(json.loads(report.read_text())["sessions"]) == 1
    assert "run_sessions" not in (root / "harness.toml").read_text()  # for this run only
    capsys.readouterr()
    code, out, err = run_cli(capsys, "status", "--json", "-C", str(root))
    assert code == 0 and json.loads(out)["features"]["passing"] == 1, out + err


def test_init_reads_spec_md_when_no_spec_is_given(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    code, out = harness_out(root, "init", "--quiet")
    assert code == 0, out
    assert "using ./SPEC.md" in out
    assert (root / "feature_list.json").exists()


def test_run_resume_names_the_run_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(tmp_path / "p", count=1)
    init(root)
    code = harness(root, "run", "--resume", "20990101-000000-abcdef")
    err = capsys.readouterr().err
    assert code == 2 and "no run 20990101-000000-abcdef" in err and "harness runs" in err
    assert harness(root, "run") == 0
    runs = json.loads(harness_out(root, "runs", "--json")[1])
    finished = [r["id"] for r in runs if r["kind"] == "run"][-1]
    capsys.readouterr()
    code = harness(root, "run", "--resume", finished)
    err = capsys.readouterr().err
    assert code == 2 and f"run {finished} finished" in err


@pytest.mark.parametrize(
    ("outcome", "detail", "said"),
    [
        (
            "waiting_for_human",
            "waiting for a human: question q1: go?",
            "waiting for a human: question q1: go?",
        ),
        ("interrupted", "interrupted", "interrupted"),
        ("waiting", "waiting for the provider since 12:00", "waiting for the provider since 12:00"),
        ("complete", "every feature passes", "complete: every feature passes"),
        ("budget_exhausted", "", "budget exhausted"),
    ],
)
def test_the_run_line_says_its_outcome_once(outcome: str, detail: str, said: str) -> None:

    assert headline(outcome, detail) == said


def test_log_follow_honours_limit_and_follows_a_parked_run_until_it_finishes(
    tmp_path: Path,
) -> None:

    parking = Path(__file__).parents[1] / "tui" / "parking_run.py"
    root = tmp_path / "p"
    root.mkdir()
    repo = Path(__file__).parents[2]
    first = subprocess.run(
        [sys.executable, str(parking), str(root)], capture_output=True, text=True, cwd=repo
    )
    assert first.returncode == 4, first.stderr
    follow = subprocess.Popen(
        [sys.executable, "-m", "harness", "log", "--follow", "--json", "--limit", "0",
         "-C", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert follow.stderr is not None
        said = follow.stderr.readline()
        assert "waiting for a human, nobody drives it: still following" in said
        with QuestionStore(root / ".harness") as store:
            store.answer(store.pending()[0].id, choice=0)
        second = subprocess.run(
            [sys.executable, str(parking), str(root)], capture_output=True, text=True, cwd=repo
        )
        assert second.returncode == 0, second.stderr
        out, err = follow.communicate(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["name"] for r in rows] == ["ask_human"]  # --limit 0: none of the old steps
    assert "finished: complete" in err
