"""`harness status` and the start-up cost of the CLI."""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import COMMANDS, main
from harness.cli.commands.status import bar
from tests.conftest import git

EXAMPLE = Path(__file__).resolve().parents[2] / "templates" / "example"
HEAVY = ("litellm", "textual", "docker", "pydantic_monty")


@pytest.fixture
def example(git_project: Path) -> Path:
    """The example project (5 features, 2 passing, 2 sessions) in a git repository."""
    for item in EXAMPLE.iterdir():
        shutil.copy2(item, git_project / item.name)
    git(git_project, "add", "-A")
    git(git_project, "commit", "-q", "-m", "example project")
    return git_project


def status(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-C", str(root), "status", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_status(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = status(example, capsys)
    head = git(example, "rev-parse", "HEAD").strip()
    assert code == 0
    assert "2/5 passing (40%)" in out
    assert bar(2, 5) in out and bar(2, 5).count("#") == 12
    assert "session 2" in out and "F003: `todo done N`" in out
    assert head[:10] in out and "clean, on main" in out


def test_json_status(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example / "scratch.txt").write_text("untracked")
    code, out, _ = status(example, capsys, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["features"]["total"] == 5 and data["features"]["passing"] == 2
    assert data["features"]["next"] == "F003"
    assert [f["id"] for f in data["features"]["list"]] == ["F001", "F002", "F003", "F004", "F005"]
    assert data["git"]["head"] == git(example, "rev-parse", "HEAD").strip()
    assert data["git"]["dirty"] is True and data["git"]["detached"] is False
    assert data["git"]["summary"] == "example project"
    assert data["last_session"]["session"] == 2 and data["last_session"]["feature"] == "F002"


def test_detached_head(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(example, "checkout", "-q", "--detach")
    data = json.loads(status(example, capsys, "--json")[1])
    assert data["git"]["detached"] is True and data["git"]["branch"] is None
    assert "detached HEAD" in status(example, capsys)[1]


def test_without_git_or_commits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for item in EXAMPLE.iterdir():
        shutil.copy2(item, tmp_path / item.name)
    code, out, _ = status(tmp_path, capsys)
    assert code == 0 and "is not a git repository" in out
    git(tmp_path, "init", "-q", "-b", "main")
    data = json.loads(status(tmp_path, capsys, "--json")[1])
    assert data["git"]["head"] is None and data["git"]["dirty"] is True


def test_no_feature_list_exit_2(git_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = status(git_project, capsys)
    assert code == 2 and out == ""
    assert "no feature_list.json" in err and "harness init" in err


def test_invalid_feature_list_exit_2(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example / "feature_list.json").write_text('{"version": 1, "features": [}')
    code, _, err = status(example, capsys)
    assert code == 2
    assert err.startswith("harness: feature_list.json: at ") and "Traceback" not in err


def test_no_progress_entries(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example / "progress.md").unlink()
    code, out, _ = status(example, capsys)
    assert code == 0 and "no session yet" in out


def imported_by(args: list[str], watched: tuple[str, ...] = (*HEAVY, "git")) -> list[str]:
    """The heavy modules (and GitPython) a fresh interpreter imports to run `harness ARGS`
    (or those of ``watched``)."""
    code = (
        "import sys, contextlib, io\n"
        "from harness.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        code = main({args!r})\n"
        "    except SystemExit as exit:\n"
        "        code = exit.code\n"
        f"print(sorted(m for m in {watched!r} if m in sys.modules), code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found, exit_code = done.stdout.rsplit(" ", 1)
    assert exit_code.strip() in ("0", "2"), done.stdout
    return list(json.loads(found.replace("'", '"')))


def test_help_imports_nothing_heavy() -> None:
    assert imported_by(["--help"]) == []
    assert imported_by([]) == []


def test_help_and_version_build_no_pydantic_model() -> None:
    """`harness --help` and `--version` import every command's module to build the parser:
    none may load the feature list's pydantic models (0.2 CPU-s of a 0.25 s start)."""
    watched = ("pydantic", "artifacts.models", "artifacts.config")
    assert imported_by(["--help"], watched) == []
    assert imported_by(["--version"], watched) == []
    assert imported_by(["status", "--help"], watched) == []


def test_status_imports_nothing_heavy(example: Path) -> None:
    assert imported_by(["-C", str(example), "status"]) == []
    assert imported_by(["-C", str(example), "status", "--json"]) == []


def test_importtime_of_status_names_no_heavy_module(example: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "harness", "-C", str(example), "status"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "artifacts.feature_list" in modules  # the check sees real imports
    assert not {m.split(".")[0] for m in modules} & set(HEAVY)


def commands_imported_by(args: list[str]) -> list[str]:
    """The command modules a fresh interpreter imports to run `harness ARGS`."""
    code = (
        "import sys, contextlib, io\n"
        "from harness.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main({args!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted(m.rsplit('.', 1)[-1] for m in sys.modules\n"
        "                      if m.startswith('harness.cli.commands.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_command_imports_its_own_module_only(example: Path) -> None:
    assert commands_imported_by(["-C", str(example), "status", "--json"]) == ["status"]
    assert commands_imported_by(["log", "-C", str(example), "--json"]) == ["log"]
    assert commands_imported_by([f"--project={example}", "answer", "--help"]) == ["questions"]
    every = {module.rsplit(".", 1)[-1] for module, _ in COMMANDS}
    assert set(commands_imported_by(["--help"])) >= every
    # a mistyped command: argparse names every choice
    assert set(commands_imported_by(["-C", str(example), "stauts"])) >= every


def test_the_command_table_names_what_each_module_registers() -> None:
    for module, names in COMMANDS:
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(module).register(subparsers)
        assert tuple(subparsers.choices) == names, module


def test_status_loads_the_question_queue_not_the_escalation_machinery(example: Path) -> None:
    code = (
        "import sys, contextlib, io\n"
        "from harness.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({['-C', str(example), 'status', '--json']!r})\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('escalation'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "escalation.question_db" in loaded  # the check sees real imports
    assert not loaded & {"escalation.gates", "escalation.learn", "escalation.matrix"}
