"""Trees a command builds to outrun the harness's walks: a path longer than PATH_MAX (a
folder opened by its path fails with ENAMETOOLONG and was skipped), and a folder deeper
than Python's recursion limit (a recursive glob raised RecursionError and killed the run,
and every resume).

- a setuid shell at the bottom of a 5,000-byte path survived the sweep (setuid-root on
  the host when harness runs as root);
- 40 MiB there escaped a 5 MiB disk budget;
- `list_files` and `grep` over a 1,100-deep folder raised RecursionError out of the tool
  registry, ending the run with a traceback (the resume met it again).
Outcomes: no setuid file left anywhere in the project, the disk failure reported to the
agent, the file tools' answers are results, the honest work is committed.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import walk
from runners import disk
from session.verify.clean import PREFIX, checkouts_home
from tests.attacks.support import (
    RUNNERS,
    git_out,
    journal_verifies,
    plant_deep,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, good_turns, tool_outputs, turn

LEVELS = "/".join(["d" * 200] * 12)  # 2,412 bytes: each path below stays under PATH_MAX
# The setuid shell and 40 MiB are made 12 levels down, then that tree is moved 13 levels
# further down: they end 5,000 bytes below the project, and no command ever named a path
# longer than PATH_MAX (4,096; dash's `cd` refuses to go deeper, `mv` does not care).
DEEP = (
    f"mkdir -p low/{LEVELS} && cp /bin/sh low/{LEVELS}/suid-sh && "
    f"chmod 4755 low/{LEVELS}/suid-sh && "
    f"dd if=/dev/zero of=low/{LEVELS}/big.bin bs=1048576 count=40 2>/dev/null && "
    f"mkdir -p high/{LEVELS}/x && mv low high/{LEVELS}/x/ && echo plant$((1+1))ed"
)
PLANTED = "plant2ed"  # in the output only, never in the command's own text
# 1,100 levels of one letter: deeper than the recursion limit (1,000), short paths.
TALL = "i=0; while [ $i -lt 1100 ]; do mkdir a && cd a || exit 1; i=$((i+1)); done; echo x > z.txt"


@pytest.fixture
def cleared(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, its deep trees removed with `rm -rf` afterwards: pytest's own clean-up
    (shutil.rmtree, recursive) cannot remove them and would fail in every later session."""
    yield tmp_path
    subprocess.run(["rm", "-rf", str(tmp_path / "p")], check=False)


def _setuid_files(root: Path) -> list[str]:
    found = subprocess.run(
        ["find", str(root), "-path", str(root / ".git"), "-prune", "-o", "-type", "f",
         "-perm", "/6000", "-print"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return found.stdout.split()


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_a_setuid_shell_past_path_max_loses_its_bit(
    kind: str, request: pytest.FixtureRequest, cleared: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [turn(call("run", command=DEEP)), *good_turns(1)]
    root = project(cleared / "p", runner, sessions={1: turns})
    code, report = run(root, cleared)
    assert PLANTED in tool_outputs(root, "run")[0]  # the attack ran
    assert _setuid_files(root) == [], "a setuid file survived the sweep"
    assert code == 0 and report.get("outcome") == "complete", report
    assert "removed the setuid/setgid bit" in (root / "progress.md").read_text()
    assert "suid-sh" not in git_out(root, "log", "--all", "--name-only", "--format=")


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_a_disk_budget_counts_what_lies_past_path_max(
    kind: str, request: pytest.FixtureRequest, cleared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = runner_for(kind, request)
    # A full count after every command: what other tests free on this file system meanwhile
    # cannot hide the 40 MiB from the free-space shortcut (seen at -n 4: the command's
    # output had no failure). The shortcut and its recount are tests/runners/test_disk.py's.
    monkeypatch.setattr(disk, "RECOUNT_EVERY", 1)
    budgeted = dataclasses.replace(runner, table=runner.table + "disk_mb = 5\n")
    turns = [turn(call("run", command=DEEP)), {"text": "Filled."}]
    root = project(cleared / "p", budgeted, sessions={1: turns})
    run(root, cleared)
    first = tool_outputs(root, "run")[0]
    assert PLANTED in first  # the attack ran
    assert "INFRASTRUCTURE FAILURE (disk)" in first, first[-600:]


@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
@pytest.mark.slow  # ~4 CPU-s each
def test_file_tools_over_a_folder_deeper_than_the_recursion_limit_answer(
    kind: str, request: pytest.FixtureRequest, cleared: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [
        turn(call("run", command=TALL)),
        turn(call("list_files", pattern="**/*.txt")),
        turn(call("grep", regex="x", glob="**/z.txt")),
        *good_turns(1),
    ]
    root = project(cleared / "p", runner, sessions={1: turns})
    code, report = run(root, cleared)
    assert code == 0 and report.get("outcome") == "complete", report
    listed = tool_outputs(root, "list_files")[0]
    assert listed.count("a/") >= 1000 and listed.rstrip().endswith("z.txt"), listed[-200:]
    assert "z.txt:1: x" in tool_outputs(root, "grep")[0]
    assert journal_verifies(root)
    mode = (root / "done_a.txt").lstat().st_mode
    assert stat.S_ISREG(mode)
    # The checks' clean checkouts of the 1,100-deep tree are gone (shutil.rmtree recursed:
    # one stayed, and every later run's sweep of leftover checkouts raised RecursionError).

    mine = f"{PREFIX}{os.getpid()}-"
    assert [e.name for e in checkouts_home().iterdir() if e.name.startswith(mine)] == []


def test_a_deep_tree_walked_stamped_is_looked_at_again_in_linear_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sandboxed command's tree is walked stamped (runners.protect), then each folder is
    looked at again from the root (`Walk.changed`): its path measured once, or each name of
    it once past PATH_MAX. Measured whole at each name a chunk grew by, a 1,100-deep tree
    took 20 s (cubic)."""
    depth = 400
    plant_deep(tmp_path, depth, "z.txt", b"x", step="a")
    encoded = 0

    def fsencode(name: str) -> bytes:
        nonlocal encoded
        encoded += len(name)
        return os.fsencode(name)

    the_walk = walk.Walk(tmp_path, stamped=True)
    assert [e.path for e in the_walk][-1].endswith("/z.txt")
    assert len(the_walk.stamps) == depth + 1
    monkeypatch.setattr(walk, "os", SimpleNamespace(**{**vars(os), "fsencode": fsencode}))
    assert the_walk.changed() == []
    # Each folder's path measured at most twice (whole, then name by name past PATH_MAX).
    assert encoded <= 2 * sum(map(len, the_walk.stamps)), encoded
