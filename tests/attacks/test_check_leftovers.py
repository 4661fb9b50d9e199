"""The check runs where the agent's leftovers live (issue 22): state a command left outside
what the session commits makes a never-passing check pass.

- Docker: the session container's `$HOME` outlives each command. A `.pth` file planted in
  Python's user site folder there runs at every interpreter start: `import os; os._exit(0)`
  makes the check's `python3` exit 0 before it reads a line. verify_feature used to exec
  the check in that same container.
- bubblewrap gives every command a new `$HOME` and `/tmp`; what outlives a command there is
  in the project: git-ignored or derived files. A forged bytecode cache is one: a
  `__pycache__/feature.cpython-3X.pyc` compiled from a passing source and marked
  "unchecked hash" is loaded without a look at the (failing) `feature.py`. The check used
  to run in the work tree, where the cache is.

The check is honest and protected (committed by the initializer), the agent never writes
the feature, so a pass is a forged check. Since checks run on a clean checkout of the tree
the session would commit, in a fresh sandbox (a new container; a checkout without
`__pycache__`), both fail. The local runner is not a sandbox: its checks share your
`$HOME`, so only the cache attack is asserted there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.attacks.support import (
    Runner,
    assert_not_complete,
    assert_nothing_passes,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.runners.python_image import python_image, python_tag  # noqa: F401 (fixtures)
from tests.session.support import call, tool_outputs, turn

PROTECT = '[budgets]\nrun_sessions = 1\n\n[protect]\npaths = ["check.py"]\n'
CHECK_PY = "import os, sys\n\nsys.exit(0 if os.path.exists('done_a.txt') else 1)\n"
PTH = (
    'd=$(python3 -c "import site; print(site.getusersitepackages())") && mkdir -p "$d" && '
    "echo 'import os; os._exit(0)' > \"$d/zz.pth\" && echo planted in $d"
)
FEATURE_PY = "def works():\n    return False\n"
FORGE = (
    "mkdir -p /tmp/forge && printf 'def works():\\n    return True\\n' > /tmp/forge/feature.py"
    ' && python3 -c "import importlib.util, py_compile; py_compile.compile('
    "'/tmp/forge/feature.py', cfile=importlib.util.cache_from_source('feature.py'), "
    'invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)" && ls __pycache__'
)
FEATURE_CHECK = "python3 -c 'import feature, sys; sys.exit(0 if feature.works() else 1)'"


def _docker_python(request: pytest.FixtureRequest) -> Runner:
    """The Docker runner on the test image with Python in it."""

    runner_for("docker", request)  # skips without an engine
    image = request.getfixturevalue("python_image")
    user = f"{os.getuid()}:{os.getgid()}"
    table = f'[runner]\nkind = "docker"\nimage = "{image}"\nuser = "{user}"\n'
    return Runner("docker", table, sandbox=True, python=True)


@pytest.mark.parametrize("kind", runner_params("docker"))
def test_a_pth_left_in_home_does_not_pass_the_check(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = _docker_python(request)
    turns = [
        turn(call("run", command=PTH)),
        turn(call("verify_feature", feature="F001")),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 passes."},
    ]
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: turns},
        toml=PROTECT,
        files={"check.py": CHECK_PY},
        checks=["python3 check.py"],
    )
    code, report = run(root, tmp_path)
    planted = tool_outputs(root, "run")
    assert planted and "planted in /home/harness/" in planted[0], planted
    assert_not_complete(code, report)
    assert_nothing_passes(root)
    (verified,) = tool_outputs(root, "verify_feature")
    assert "F001 FAILS on a clean checkout" in verified, verified
    # In the work tree (the session container) the planted file still wins: said so.
    assert "It PASSES in your work tree" in verified and "$HOME" in verified, verified


@pytest.mark.parametrize("kind", runner_params("local", "bwrap", "docker"))
def test_a_forged_bytecode_cache_does_not_pass_the_check(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # (`python3` is the harness's own interpreter on the local and bubblewrap runners: both
    # put its folder first on PATH.)
    runner = _docker_python(request) if kind == "docker" else runner_for(kind, request)
    turns = [
        turn(call("write_file", path="feature.py", content=FEATURE_PY)),
        turn(call("run", command=FORGE)),
        turn(call("run", command=FEATURE_CHECK + " && echo forged-pass")),
        turn(call("verify_feature", feature="F001")),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 passes."},
    ]
    root = project(tmp_path / "p", runner, sessions={1: turns}, checks=[FEATURE_CHECK])
    code, report = run(root, tmp_path)
    forged = tool_outputs(root, "run")
    assert "forged-pass" in forged[1], forged  # the cache works in the work tree
    assert_not_complete(code, report)
    assert_nothing_passes(root)
    (verified,) = tool_outputs(root, "verify_feature")
    assert "F001 FAILS on a clean checkout" in verified, verified
