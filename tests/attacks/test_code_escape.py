"""Code mode's interpreter (pydantic-monty) is the agent's too: programs that try to
reach the host from it (open, imports, dunder walks to os.system, exec/eval) write no
marker outside the project and leave the project's state untouched. Runner-independent:
the program runs inside the harness's own process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import assert_nothing_passes, project, run, runner_for
from tests.session.support import call, tool_outputs, turn

PROGRAMS = {
    "open": "open('{marker}', 'w').write('x')",
    "import": "import os\nos.system('touch {marker}')",
    "dunder_import": "__import__('os').system('touch {marker}')",
    "subclasses": (
        "for c in ().__class__.__base__.__subclasses__():\n"
        "    if c.__name__ == 'Popen':\n"
        "        c(['touch', '{marker}'])"
    ),
    "exec": "exec(\"import os; os.system('touch {marker}')\")",
    "builtins": "__builtins__['__import__']('os').system('touch {marker}')",
    "frames": (
        "def f():\n    raise ValueError()\n"
        "try:\n    f()\nexcept ValueError as e:\n"
        "    g = e.__traceback__.tb_frame.f_globals\n"
        "    g['__builtins__']['__import__']('os').system('touch {marker}')"
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_a_code_mode_program_cannot_reach_the_host(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for("local", request)
    marker = tmp_path / f"MARKER-code-{name}"
    program = PROGRAMS[name].format(marker=marker)
    turns = [turn(call("code", program=program)), {"text": "Tried."}]
    root = project(tmp_path / "p", runner, sessions={1: turns})
    run(root, tmp_path)
    [output] = tool_outputs(root, "code")
    assert output.startswith("error"), output  # the program ran, and failed
    assert not marker.exists(), f"code mode's {name} escape ran a program on the host"
    assert_nothing_passes(root)
