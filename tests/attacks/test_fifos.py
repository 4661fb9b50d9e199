"""A command leaves FIFOs where the harness or its git read: `.gitignore` (at the root and
in a folder), `.gitattributes`, `.mailmap`, a nested repository's `HEAD` (or that of the
folder a `.git` file names), `progress.md`, `feature_list.json`. git opens those files and
waits on a FIFO forever (then every later run would too); progress.md's append would fail
or block, and so did the sentinel's read of the feature list. The harness removes them,
commits the honest work, and does not hang."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.attacks.support import RUNNERS, committed_passing, project, runner_for, runner_params
from tests.session.support import call, forked, good_turns, turn

FIFOS = {
    "gitignore": "rm -f .gitignore; mkfifo .gitignore; mkdir -p sub; mkfifo sub/.gitignore",
    "gitattributes": "mkdir -p sub; mkfifo .gitattributes sub/.gitattributes",
    "progress": "rm -f progress.md; mkfifo progress.md",
    # The sentinel read the feature list after every call: the session waited forever.
    "feature_list": "rm -f feature_list.json; mkfifo feature_list.json",
    # git log (every wake) read the work tree's .mailmap: the run failed after 120 s.
    "mailmap": "mkfifo .mailmap",
    # git status reads a nested repository's HEAD, or the folder a `.git` file names.
    "nested": "mkdir -p n/.git/objects n/.git/refs; mkfifo n/.git/HEAD",
    "gitdir": "mkdir -p x/objects x/refs m; mkfifo x/HEAD; echo 'gitdir: ../x' > m/.git",
}

HUNG = 300  # seconds: a bound on the child for a harness that hangs on a FIFO


@pytest.mark.parametrize("fifo", sorted(FIFOS))
@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_fifos_where_git_or_harness_read_do_not_hang_the_run(
    kind: str, fifo: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [turn(call("run", command=FIFOS[fifo] + "; ls -la")), *good_turns(1)]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    # A child (a fork of this process), so that a hang is bounded and killed. The bound is
    # for a hang, not a speed: a run ends in seconds, over 90 s on a loaded machine.
    try:
        done = forked(["harness", "-C", str(root), "run", "--unattended"], timeout=HUNG)
    except subprocess.TimeoutExpired:
        pytest.fail("the run hung on a FIFO")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert committed_passing(root) == ["F001"]
    assert (root / "progress.md").is_file()


# The user's project has a virtual environment git ignores: a run's git leaves it out of
# its sweep for FIFOs after its first commands (artifacts/git_sweep.py, kept by the run's
# ConfigChecks). The agent makes git read there again, then plants a FIFO where it reads.
VENV = {
    "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n',
    ".venv/.gitignore": "*\n",  # as `python -m venv` writes it
    **{f".venv/lib/pkg{k}/m.py": "x = 1\n" for k in range(5)},
}
UNIGNORE = {
    "rule": "sed -i '/venv/d' .gitignore",
    "tracked": "git add -f .venv/lib/pkg0/m.py",
}


@pytest.mark.parametrize("how", sorted(UNIGNORE))
def test_a_fifo_in_an_ignored_folder_the_agent_makes_git_read(
    how: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for("local", request)
    command = f"{UNIGNORE[how]}; rm -f .venv/.gitignore; mkfifo .venv/.gitignore; ls -la .venv"
    turns = [turn(call("run", command=command)), *good_turns(1)]
    root = project(tmp_path / "p", runner, sessions={1: turns}, files=VENV)
    assert ".venv/" in (root / ".gitignore").read_text().splitlines()
    try:
        done = forked(["harness", "-C", str(root), "run", "--unattended"], timeout=HUNG)
    except subprocess.TimeoutExpired:
        pytest.fail("the run hung on a FIFO")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "removed .venv/.gitignore" in done.stderr
    assert committed_passing(root) == ["F001"]


def test_what_the_run_removed_is_said_through_its_events(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Issue 26: the removal is a `notice` of the run (on --json), not a line past its
    events (it was printed on stderr, --quiet or not)."""
    turns = [turn(call("run", command="mkfifo .mailmap; ls -la")), *good_turns(1)]
    root = project(tmp_path / "p", runner_for("local", request), sessions={1: turns})
    argv = ["harness", "-C", str(root), "run", "--unattended", "--json", "--quiet"]
    done = forked(argv, timeout=HUNG)
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in done.stdout.splitlines()]
    notices = [e["detail"] for e in events if e["type"] == "notice"]
    said = "removed .mailmap: not a regular file, where git reads"
    assert any(n.startswith(said) for n in notices), notices
    assert ".mailmap" not in done.stderr, done.stderr
    assert not (root / ".mailmap").exists() and committed_passing(root) == ["F001"]
