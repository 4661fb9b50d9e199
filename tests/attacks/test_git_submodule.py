"""The agent plants a filter in a submodule's own config: the project's `.git/config` is
checked, but an embedded repository committed as a gitlink (a vendored library, say) has
its own `.git/config`, in the agent's reach. Looking inside it, host git would run that
filter (a file rewritten at the same size must be hashed to tell whether it changed). A
marker file outside the project proves execution.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.attacks.support import RUNNERS, project, run, runner_for, runner_params, set_turns
from tests.session.support import call, good_turns, harness_out, turn

SAFE_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=u", "-c", "user.email=u@x"]


def _vendor(root: Path) -> None:
    """The user's own embedded repository at vendor/lib, committed as a gitlink."""
    lib = root / "vendor" / "lib"
    lib.mkdir(parents=True)
    subprocess.run([*SAFE_GIT, "init", "-q"], cwd=lib, check=True)
    (lib / "f.txt").write_text("a\n")
    subprocess.run([*SAFE_GIT, "add", "f.txt"], cwd=lib, check=True)
    subprocess.run([*SAFE_GIT, "commit", "-qm", "lib"], cwd=lib, check=True)
    subprocess.run([*SAFE_GIT, "add", "vendor/lib"], cwd=root, check=True, capture_output=True)
    subprocess.run([*SAFE_GIT, "commit", "-qm", "vendor lib"], cwd=root, check=True)


@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_a_filter_in_a_submodules_config_never_runs_on_the_host(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    marker = tmp_path / "MARKER-submodule"
    root = project(tmp_path / "p", runner, sessions={1: []}, toml="[budgets]\nrun_sessions = 2\n")
    _vendor(root)
    plant = (
        f'printf \'[filter "x"]\\n\\tclean = "touch {marker}; cat"\\n\' >> vendor/lib/.git/config'
        " && printf '* filter=x\\n' > vendor/lib/.gitattributes && printf 'b\\n' > vendor/lib/f.txt"
    )
    set_turns(root, 1, [turn(call("run", command=f"{plant}; echo planted=$?")), *good_turns(1)])
    run(root, tmp_path)
    assert not marker.exists(), "the harness's git ran a submodule's filter on the host"
    for command in (["status"], ["status", "--json"], ["validate"], ["doctor"], ["log"]):
        harness_out(root, *command)
        assert not marker.exists(), f"`harness {' '.join(command)}` ran a submodule's filter"
