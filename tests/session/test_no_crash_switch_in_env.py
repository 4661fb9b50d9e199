"""Crash switches come only from the process that wants the crash, never the environment.

A user whose shell has ``HARNESS_CRASH_AT_STEP`` or ``HARNESS_CRASH_IN`` set (left over
from a test session, a copied CI file) runs `harness init` and `harness run` to the end;
the same switches given to the crash entry (`python -m harness.cli.chaos`, as the demo and
the tests start it) do kill the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.session.support import harness_proc, make_project, passing

# Every variable a crash switch was ever read from, and values that would fire at once.
CHAOS_ENV = {
    "HARNESS_CRASH_AT_STEP": "1",
    "HARNESS_CRASH_IN": "llm:*",
    "HARNESS_CHAOS": "1",
}
PACKAGES = ("harness", "artifacts", "initializer", "session", "escalation", "runners", "tui")


@pytest.mark.slow  # 1.5 CPU-s
def test_crash_variables_in_the_environment_do_nothing_to_init_and_run(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    spec = str(root / "SPEC.md")
    # New interpreters: a switch read from the environment at start would show only there.
    initialised = harness_proc(root, "init", "--spec", spec, env=CHAOS_ENV, fresh=True)
    assert initialised.returncode == 0, initialised.stderr
    done = harness_proc(root, "run", env=CHAOS_ENV, fresh=True)
    assert done.returncode == 0, done.stderr
    for said in (initialised.stderr, done.stderr):
        assert "crashing on purpose" not in said
    assert passing(root) == ["F001"]
    assert not list((root / ".harness").glob("crash-*.done"))


def test_the_crash_entry_kills_the_run_where_it_is_told(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    spec = str(root / "SPEC.md")
    assert harness_proc(root, "init", "--spec", spec).returncode == 0
    killed = harness_proc(root, "run", "--json", "--quiet", crash_in="tool:write_file")
    assert killed.returncode == -9, killed.stderr
    # Said through the run's events (the last before the kill), not past them on stderr.
    last = json.loads(killed.stdout.splitlines()[-1])
    assert last["type"] == "notice", last
    assert last["detail"] == "crashing on purpose in tool:write_file #1 (--in)"
    assert "crashing on purpose" not in killed.stderr
    done = harness_proc(root, "run")
    assert done.returncode == 0, done.stderr
    assert passing(root) == ["F001"]


def test_no_module_of_harness_reads_a_crash_variable() -> None:
    root = Path(__file__).resolve().parents[2]
    readers = [
        str(path.relative_to(root))
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if "HARNESS_CRASH" in path.read_text(encoding="utf-8")
    ]
    assert readers == []
