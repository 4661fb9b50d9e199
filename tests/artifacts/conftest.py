"""Fixtures: a copy of the example project, and a CLI runner that captures output."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "templates" / "example"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of templates/example (valid: 5 features, 2 passing, 2 entries)."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root, symlinks=True)
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (symlinks by their target, dirs by name)."""
    result: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            result[key] = "link:" + str(path.readlink())
        elif path.is_file():
            result[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            result[key] = "dir"
    return result


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `harness -C <dir> <args>` in-process; return (exit code, stdout, stderr)."""

    def run(root: Path, *args: str) -> tuple[int, str, str]:
        code = main(["-C", str(root), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
