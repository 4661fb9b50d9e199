"""What of the host a sandboxed command sees, and as whom it runs.

- It reads the host's secrets under /etc: as root, bubblewrap's command read `/etc/shadow`
  and Docker's TLS key (`/etc/docker/key.json`) and the writeback committed them (the whole
  host /etc was bound, and the command's uid was the harness's: root). The sandbox's /etc
  is now a curated copy; Docker's is the image's.
- As whom: with the harness as root (`sudo harness run`) on a project that belongs to a
  user, the command runs as that user: it cannot read root's files, what it writes is the
  user's (and the writeback commits it), and the `pids` limit holds (the kernel exempts
  only root from RLIMIT_NPROC). bubblewrap only (Docker's user is `runner.user`).
- On a project that belongs to root, commands run as root: a fork bomb ran whole under
  `pids = 16`. Each command has a pids cgroup of its own now (bubblewrap).

Not on the local runner: it is not a sandbox (its commands see what you see).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runners import pids_group
from tests.attacks.support import (
    committed_passing,
    git_out,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, good_turns, tool_outputs, turn

HOST_SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/docker/key.json")


def _host_secret_lines() -> list[str]:
    """Lines of the host's secret files that would give them away (what a root command
    could read); none when this test cannot read them either."""
    found = []
    for name in HOST_SECRETS:
        try:
            text = Path(name).read_text(errors="replace")
        except OSError:
            continue
        found += [line for line in text.splitlines() if len(line) > 8][:3]
    try:
        key = json.loads(Path("/etc/docker/key.json").read_text())
        found.append(str(key.get("d", "")))
    except (OSError, ValueError):
        pass
    return [line for line in found if line]


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_command_reads_no_secret_of_the_host_s_etc(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    secrets = _host_secret_lines()
    if not secrets:
        pytest.skip("this user cannot read the host's /etc/shadow or Docker's key either")
    runner = runner_for(kind, request)
    probe = (
        "for f in /etc/shadow /etc/gshadow /etc/docker/key.json /etc/ssh/*key /root/*; do "
        'echo "== $f"; cat "$f"; done > leak.txt 2>&1; cat leak.txt; ls /etc; echo probed'
    )
    turns = [turn(call("run", command=probe)), {"text": "Looked around."}]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    output = tool_outputs(root, "run")[0]
    assert "probed" in output
    history = git_out(root, "log", "-p", "--all", "--", ".", ":!script.json")
    assert "leak.txt" in git_out(root, "ls-tree", "-r", "--name-only", "HEAD")
    for line in secrets:
        assert line not in output, "a command read a secret of the host's /etc"
        assert line not in history, "a secret of the host's /etc was committed"
    listed = output.split("probed")[0].split()
    assert not {"shadow", "gshadow", "docker", "sudoers"} & set(listed), listed


@pytest.fixture
def users_project() -> Iterator[Path]:
    """A folder every user can walk into (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="harness-owner-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the harness as root on a user's project")
def test_as_root_on_a_user_s_project_commands_run_as_that_user(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    users_project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bwrap = runner_for("bwrap", request)
    runner = dataclasses.replace(bwrap, table=bwrap.table + "pids = 16\n")
    uid, gid = 4242, 4243
    bomb = "n=0; while [ $n -lt 40 ]; do sleep 3 & n=$((n+1)); done; echo started $n"
    commands = [
        "id -u; id -g; cat /etc/shadow; ls /root; echo probed",
        "echo made > made.txt; mkdir -p d && echo x > d/f; ls -ln made.txt",
        bomb,
    ]
    # The feature's check runs on a clean checkout (verify's), as the same user.
    turns = [turn(call("run", command=c)) for c in commands] + good_turns(1)
    root = project(
        users_project / "p",
        runner,
        sessions={1: turns},
    )
    for path in [root, *root.rglob("*")]:
        os.lchown(path, uid, gid)
    monkeypatch.setenv("SUDO_UID", str(uid))  # `sudo harness run`: git's ownership check
    run(root, tmp_path)
    outputs = tool_outputs(root, "run")
    assert len(outputs) == 3, outputs
    stdout = outputs[0].split("--- stdout ---")[1].split()
    assert stdout[:2] == [str(uid), str(gid)], outputs[0]
    assert "root:" not in outputs[0]
    made = root / "made.txt"
    assert made.stat().st_uid == uid and (root / "d" / "f").stat().st_uid == uid
    assert "made.txt" in git_out(root, "ls-tree", "-r", "--name-only", "HEAD")
    assert "started 40" not in outputs[2], "the pids limit did not hold"
    checked = tool_outputs(root, "verify_feature")
    assert committed_passing(root) == ["F001"], checked  # its check ran, as uid 4242


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the harness as root on root's project")
def test_as_root_on_root_s_project_the_pids_limit_holds(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A project that belongs to root runs its commands as root, whom the kernel exempts
    from RLIMIT_NPROC: a fork bomb ran until the time limit. Each command has a pids
    cgroup of its own now (where one can be made; else the runner says it cannot)."""
    if pids_group.base() is None:
        pytest.skip("no pids cgroup can be made here: the runner says pids is not enforced")
    bwrap = runner_for("bwrap", request)
    runner = dataclasses.replace(bwrap, table=bwrap.table + "pids = 16\n")
    bomb = "n=0; while [ $n -lt 40 ]; do sleep 3 & n=$((n+1)); done; echo started $n"
    turns = [turn(call("run", command=bomb)), *good_turns(1)]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    assert root.stat().st_uid == 0
    run(root, tmp_path)
    outputs = tool_outputs(root, "run")
    assert len(outputs) == 1, outputs
    assert "started 40" not in outputs[0], "the pids limit did not hold"
    assert "fork" in outputs[0].lower(), outputs[0]  # the shell said why it stopped
    assert committed_passing(root) == ["F001"], tool_outputs(root, "verify_feature")
