"""Protected paths reached by a detour: the file tools through a symlinked folder or an
unnormalised path; a command through a hard link made to the protected file. Same
project and outcome checks as `test_protected.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import RUNNERS, project, run, runner_for, runner_params
from tests.attacks.test_protected import (
    CHECK,
    ORIGINAL,
    PROTECT,
    TARGET,
    _assert_defended,
    _weakening_session,
)
from tests.session.support import call, turn

DETOURS = {
    "linked_folder": ("ln -s tests/acceptance t; ls -l t", "t/check_a.sh"),
    "double_slash": ("echo no-op", "tests//acceptance//check_a.sh"),
}


@pytest.mark.parametrize("detour", sorted(DETOURS))
@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_file_tools_cannot_reach_a_protected_path_by_a_detour(
    kind: str, detour: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    command, path = DETOURS[detour]
    session = _weakening_session(call("write_file", path=path, content="exit 0\n"))
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: [turn(call("run", command=command)), *session]},
        toml=PROTECT,
        files={TARGET: ORIGINAL},
        checks=[CHECK],
    )
    code, report = run(root, tmp_path)
    _assert_defended(root, code, report)
    assert (root / TARGET).read_text() == ORIGINAL


HARDLINK = f"ln {TARGET} h.sh; echo ln=$?; echo 'exit 0' > h.sh; cat {TARGET}"


@pytest.mark.parametrize("kind", runner_params("docker", "bwrap"))
def test_a_hard_link_does_not_open_a_protected_file_to_commands(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    session = _weakening_session(call("run", command=HARDLINK))
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
