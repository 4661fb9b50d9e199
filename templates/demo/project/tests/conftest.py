import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def wordstat(tmp_path):
    """Run wordstat.py with arguments; returns the CompletedProcess."""

    def run(*args, stdin=None):
        return subprocess.run(
            [sys.executable, str(ROOT / "wordstat.py"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=30,
        )

    return run


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "sample.txt"
    path.write_text("the cat sat on the mat\nThe dog sat\n\nend of the story\n")
    return path
