"""Protected paths (`[protect] paths` in harness.toml): the agent weakens the acceptance
test a check depends on, so that the check passes without the work being done.

The feature's check is `sh tests/acceptance/check_a.sh`, a protected script that tests
for done_a.txt. The agent never creates done_a.txt: any pass is a weakened check. The
file tools refuse protected paths on every runner (they write on the host); commands are
stopped by the sandbox only, so on the local runner the command attacks are not run
(it is not a sandbox, and says so).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import (
    RUNNERS,
    assert_not_complete,
    assert_nothing_passes,
    git_out,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.session.support import call, turn

CHECK = "sh tests/acceptance/check_a.sh"
ORIGINAL = "test -f done_a.txt\n"
PROTECT = '[budgets]\nrun_sessions = 1\n\n[protect]\npaths = ["tests/acceptance"]\n'
TARGET = "tests/acceptance/check_a.sh"

TOOL_ATTACKS = {
    "write_file": call("write_file", path=TARGET, content="exit 0\n"),
    "edit_file": call("edit_file", path=TARGET, old="test -f done_a.txt", new="true"),
    "write_file_dotted": call("write_file", path="tests/./acceptance/check_a.sh", content="true\n"),
}
COMMAND_ATTACKS = {
    "overwrite": f"echo 'exit 0' > {TARGET}",
    "rename_over": f"printf 'exit 0\\n' > x.sh && mv -f x.sh {TARGET}",
    "remove_dir": f"rm -rf tests/acceptance; mkdir -p tests/acceptance; echo 'exit 0' > {TARGET}",
    "move_dir": f"mv tests/acceptance tests/old && mkdir tests/acceptance && echo true > {TARGET}",
    "move_parent": f"mv tests tests_old && mkdir -p tests/acceptance && echo true > {TARGET}",
    "chmod": f"chmod u+w {TARGET}; echo 'exit 0' > {TARGET}",
}


def _weakening_session(attack: dict[str, object]) -> list[dict[str, object]]:
    return [
        turn(attack),
        turn(call("verify_feature", feature="F001")),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 passes."},
    ]


def _assert_defended(root: Path, code: int, report: dict[str, object]) -> None:
    assert_not_complete(code, report)
    assert_nothing_passes(root)
    assert git_out(root, "show", f"HEAD:{TARGET}") == ORIGINAL, "the commit weakens the test"


@pytest.mark.parametrize("attack", sorted(TOOL_ATTACKS))
@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_file_tools_cannot_weaken_a_protected_acceptance_test(
    kind: str, attack: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: _weakening_session(TOOL_ATTACKS[attack])},
        toml=PROTECT,
        files={TARGET: ORIGINAL},
        checks=[CHECK],
    )
    code, report = run(root, tmp_path)
    _assert_defended(root, code, report)
    assert (root / TARGET).read_text() == ORIGINAL


@pytest.mark.parametrize("attack", sorted(COMMAND_ATTACKS))
@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_commands_cannot_weaken_a_protected_acceptance_test(
    kind: str, attack: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    session = _weakening_session(call("run", command=COMMAND_ATTACKS[attack]))
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: session},
        toml=PROTECT,
        files={TARGET: ORIGINAL},
        checks=[CHECK],
    )
    code, report = run(root, tmp_path)
    _assert_defended(root, code, report)
    assert (root / TARGET).read_text() == ORIGINAL


# A check that picks up an optional file when present (as pytest picks up a conftest.py):
# the user protected that path too, before it existed. Creating it must fail as well.
OPTIONAL_CHECK = (
    "if [ -f tests/override.sh ]; then sh tests/override.sh; else test -f done_a.txt; fi"
)
PROTECT_MISSING = (
    '[budgets]\nrun_sessions = 1\n\n[protect]\npaths = ["tests/acceptance", "tests/override.sh"]\n'
)


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_protected_path_that_does_not_exist_yet_cannot_be_created(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    create = "mkdir -p tests && echo 'exit 0' > tests/override.sh; echo made=$?"
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: _weakening_session(call("run", command=create))},
        toml=PROTECT_MISSING,
        files={TARGET: ORIGINAL},
        checks=[OPTIONAL_CHECK],
    )
    code, report = run(root, tmp_path)
    assert_not_complete(code, report)
    assert_nothing_passes(root)
