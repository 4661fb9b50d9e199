"""The import contracts of pyproject.toml hold for the code, and break on a planted violation.

lint-imports runs on a copy of the packages in a temporary folder (first on the copy as it
is, then with one forbidden import added), so the real tree is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "artifacts", "initializer", "session", "escalation", "runners", "tui")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on sys.path, ahead of the editable install's finder.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(
            REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.md")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # planted\n", "utf-8")


def test_the_code_keeps_every_contract(copy: Path) -> None:
    done = lint(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # A lower layer importing a higher one.
        ("runners/base.py", "from session.run import run_project", "runners.base -> session.run"),
        # The foundation importing the application.
        ("harness/journal/store.py", "import harness.cli", "harness.journal.store -> harness.cli"),
        # Independent siblings: the journal and the model gateway do not know each other.
        ("harness/model/base.py", "import harness.journal", "model.base -> harness.journal"),
        # The TUI shows the harness and does not run sessions.
        ("tui/data.py", "import session.run", "tui.data -> session.run"),
        # A heavy package outside the module that wraps it.
        ("artifacts/io.py", "import textual", "artifacts.io -> textual"),
    ],
)
def test_a_planted_violation_breaks_a_contract(
    copy: Path, module: str, line: str, broken: str
) -> None:
    plant(copy / module, line)
    done = lint(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert broken in done.stdout
    assert "BROKEN" in done.stdout
