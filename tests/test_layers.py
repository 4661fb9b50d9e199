"""The import contracts of pyproject.toml hold for the code, and break on a planted violation.

lint-imports runs on a copy of the packages in a temporary folder (first on the copy as it
is, then with one forbidden import added), so the real tree is never touched.
"""

from __future__ import annotations

import ast
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
        ("harness/journal/door.py", "import harness.cli", "harness.journal.door -> harness.cli"),
        # Independent siblings: the journal and the model gateway do not know each other.
        ("harness/model/base.py", "import harness.journal", "model.base -> harness.journal"),
        # The TUI shows the harness and does not run sessions.
        ("tui/data.py", "import session.run", "tui.data -> session.run"),
        # A heavy package outside the module that wraps it.
        ("artifacts/io.py", "import textual", "artifacts.io -> textual"),
        # Readers use the journal's protocol, not SQL or a backend's classes.
        ("tui/journal_view.py", "import sqlite3", "tui.journal_view -> sqlite3"),
        ("session/run.py", "import psycopg", "session.run -> psycopg"),
        (
            "tui/data.py",
            "from harness.journal.postgres.store import PostgresReader",
            "tui.data -> harness.journal.postgres.store",
        ),
        (
            "harness/cli/commands/log.py",
            "from harness.journal.journal import Journal",
            "harness.cli.commands.log -> harness.journal.journal",
        ),
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


# The classes behind the journal protocol. Outside harness/journal a journal comes from
# open_store/open_reader, typed by the protocol, so mypy refuses its internals; importing
# these names would get around that (import-linter sees modules, not names).
SQLITE_NAMES = {"Journal", "StepDoor", "Run", "RunLock", "SqliteStore", "PostgresStore",
                "MemoryStore"}  # fmt: skip
# harness state moves the SQLite files themselves: backend-specific.
SEAM_EXCEPTIONS = {("harness/state_file.py", "RunLock")}


def seam_violations(root: Path) -> list[str]:
    found = []
    for name in PACKAGES:
        for path in sorted((root / name).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith("harness/journal/"):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or node.module is None:
                    continue
                if node.module != "harness.journal" and not node.module.startswith(
                    "harness.journal."
                ):
                    continue
                for alias in node.names:
                    if alias.name in SQLITE_NAMES and (relative, alias.name) not in SEAM_EXCEPTIONS:
                        found.append(f"{relative}:{node.lineno} imports {alias.name}")
    return found


def test_outside_the_journal_only_its_protocol_is_used() -> None:
    assert seam_violations(REPO) == []


def test_a_planted_sqlite_journal_import_is_found(copy: Path) -> None:
    plant(copy / "tui" / "data.py", "from harness.journal import Journal")
    plant(copy / "session" / "run.py", "from harness.journal.lock import RunLock")
    found = seam_violations(copy)
    assert len(found) == 2
    assert found[0].startswith("session/run.py:") and found[0].endswith("imports RunLock")
    assert found[1].startswith("tui/data.py:") and found[1].endswith("imports Journal")


def test_the_cli_opens_no_database_and_packs_no_archive() -> None:
    """Issue 26: the CLI parses, calls and prints. Packing `.harness/` (SQLite copies, a
    tar.gz) is a domain service: harness/state_file.py, under the import contracts."""
    found = []
    for path in sorted((REPO / "harness" / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            found += [
                f"{path.relative_to(REPO)}: {name}"
                for name in names
                if name.split(".")[0] in ("sqlite3", "tarfile")
            ]
    assert found == []
