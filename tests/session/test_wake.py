"""Wake runs init.sh with bash where there is one, else with the POSIX shell; init
reports init.sh as the initializer's only when the initializer wrote one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from runners.local import LocalRunner
from session.cycle import WAKE_COMMAND
from tests.session.support import SCRIPT, call, drafts, init, make_project, turn

INIT_SH = 'echo "bash=${BASH_VERSION:-none}"\n'


def _runner(root: Path) -> LocalRunner:
    return LocalRunner(root)


def test_wake_uses_bash_when_present_and_sh_otherwise(tmp_path: Path) -> None:
    (tmp_path / "init.sh").write_text(INIT_SH)
    only_sh = tmp_path / "bin"
    only_sh.mkdir()
    os.symlink("/bin/sh", only_sh / "sh")
    runner = _runner(tmp_path)
    try:
        with_bash = runner.run(WAKE_COMMAND, phase="setup")
        without = runner.run(WAKE_COMMAND, phase="setup", env={"PATH": str(only_sh)})
    finally:
        runner.close()
    assert with_bash.exit_code == 0 and "bash=none" not in with_bash.stdout
    assert without.exit_code == 0, without.stderr
    assert without.stdout.strip() == "bash=none"


def test_init_without_init_sh_says_harness_wrote_it(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", count=1)
    scenes = json.loads((root / SCRIPT).read_text())["scenes"]
    scenes[0]["turns"] = [
        turn(call("write_feature_list", features=drafts(1))),
        {"text": "Plan: one feature."},
    ]
    (root / SCRIPT).write_text(json.dumps({"scenes": scenes}))
    init(root)
    # Every project has one (validate requires it): harness's minimal one, said as such.
    assert "written by harness init" in (root / "init.sh").read_text()
    progress = (root / "progress.md").read_text()
    assert "The initializer wrote 1 features (all failing) and no init.sh" in progress
    assert "harness wrote a minimal init.sh" in progress
