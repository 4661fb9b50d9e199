"""A command leaves a setuid (and setgid) copy of a shell in the project. The sandboxes
mount the project nosuid, but the host does not: the bit on disk would make the file run
as its owner (the harness's user; root when harness runs as root) for anyone who can
reach the folder. Neither a commit nor the disk after the session keeps the bit, and the
progress entry says what was removed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.attacks.support import RUNNERS, git_out, project, run, runner_for, runner_params
from tests.session.support import call, good_turns, turn

PLANT = (
    "cp /bin/sh suid-sh; chmod 6755 suid-sh; mkdir -p deep/er; cp /bin/sh deep/er/sg; "
    "chmod 2711 deep/er/sg; ls -l suid-sh deep/er/sg"
)


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_a_setuid_file_a_command_left_loses_the_bit(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [turn(call("run", command=PLANT)), *good_turns(1)]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    code, report = run(root, tmp_path)
    assert code == 0 and report.get("outcome") == "complete", report
    for name, mode in (("suid-sh", 0o755), ("deep/er/sg", 0o711)):
        found = (root / name).lstat().st_mode
        assert not found & (stat.S_ISUID | stat.S_ISGID), (name, oct(found))
        assert stat.S_IMODE(found) == mode  # the rest of the mode is the command's
        entry = git_out(root, "ls-tree", "HEAD", "--", name).split()
        assert entry and entry[0] == "100755", entry  # git's own modes only
    progress = (root / "progress.md").read_text()
    assert "removed the setuid/setgid bit" in progress and "suid-sh" in progress
