"""What a check runs without naming it, next to the protected tests it names:

- bytecode: a `__pycache__/*.pyc` of a protected test file, forged with the file's own
  source hash, is what Python (and pytest's assertion rewriting) runs instead of the
  file: a never-passing check passed (bubblewrap, local). The protected file is listed
  alone, so its folder and its `__pycache__` are writable in the sandbox;
- ignored files: a `conftest.py` written into a protected folder and named in
  `.gitignore` was never restored before the check (the restore looked through `git
  status`, which leaves ignored files out) and pytest ran it (local: a sandbox mounts the
  folder read-only, so no command there writes it).
Outcomes: the check fails as the honest tests say, on the clean checkout and in the work
tree (where the diagnostic run after a clean checkout's failure and a check without a
clean-checkout runner go), nothing passes, the run is not complete. (Not on Docker: its
test image has no Python for pytest.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.support import (
    assert_not_complete,
    assert_nothing_passes,
    project,
    run,
    runner_for,
    runner_params,
)
from tests.attacks.test_check_hijack import CONFTEST  # passes every test
from tests.session.support import call, tool_outputs, turn
from tests.session.verify_support import PYTEST  # none of the venv's own plugins

NEVER = "import os\n\n\ndef test_a():\n    assert os.path.exists('done_a.txt')\n"
FORGE = """python3 - <<'EOF'
import importlib.util, marshal, os
import _pytest.assertion.rewrite as rewrite
source = "tests/test_a.py"
fake = compile("def test_a():\\n    pass\\n", os.path.abspath(source), "exec")
stamp = importlib.util.source_hash(open(source, "rb").read())[:8]
os.makedirs("tests/__pycache__", exist_ok=True)
head = importlib.util.MAGIC_NUMBER + b"\\x03\\x00\\x00\\x00" + stamp
for tag in (rewrite.PYTEST_TAG, rewrite.sys.implementation.cache_tag):
    with open(f"tests/__pycache__/test_a.{tag}.pyc", "wb") as out:
        out.write(head + marshal.dumps(fake))
print("forged", sorted(os.listdir("tests/__pycache__")))
EOF"""
PLANT = (
    "printf 'conftest.py\\n' >> .gitignore; "
    "cat > tests/acceptance/conftest.py <<'EOF'\n" + CONFTEST + "EOF\necho planted=$?"
)


def _attack(plant: dict[str, object]) -> list[dict[str, object]]:
    return [
        turn(plant),
        turn(call("verify_feature", feature="F001")),
        turn(call("mark_passing", feature="F001")),
        {"text": "F001 passes."},
    ]


@pytest.mark.parametrize("kind", runner_params("local", "bwrap"))
@pytest.mark.slow  # 1.8 CPU-s (local)
def test_forged_bytecode_of_a_protected_test_is_not_run(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: _attack(call("run", command=FORGE))},
        toml='[budgets]\nrun_sessions = 1\n\n[protect]\npaths = ["tests/test_a.py"]\n',
        files={"tests/test_a.py": NEVER},
        checks=[f"{PYTEST} tests/test_a.py"],
    )
    code, report = run(root, tmp_path)
    assert "forged ['test_a." in tool_outputs(root, "run")[0]  # the attack ran
    verified = tool_outputs(root, "verify_feature")[0]
    # On the clean checkout there is no bytecode at all; in the work tree (where the
    # diagnostic run and a check without a clean-checkout runner go) none is trusted.
    assert "F001 FAILS" in verified and "fails in your work tree too" in verified, verified
    assert_not_complete(code, report)
    assert_nothing_passes(root)


@pytest.mark.slow  # 1.9 CPU-s
def test_an_ignored_conftest_in_a_protected_folder_is_removed_before_the_check(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for("local", request)
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: _attack(call("run", command=PLANT))},
        toml='[budgets]\nrun_sessions = 1\n\n[protect]\npaths = ["tests/acceptance"]\n',
        files={"tests/acceptance/test_a.py": NEVER},
        checks=[f"{PYTEST} tests/acceptance"],
    )
    code, report = run(root, tmp_path)
    assert "planted=0" in tool_outputs(root, "run")[0]  # the attack ran
    verified = tool_outputs(root, "verify_feature")[0]
    assert "F001 FAILS" in verified and "fails in your work tree too" in verified, verified
    assert not (root / "tests" / "acceptance" / "conftest.py").exists()
    assert_not_complete(code, report)
    assert_nothing_passes(root)


@pytest.mark.slow  # 1.5 CPU-s
def test_the_users_own_ignored_files_in_a_protected_folder_stay(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """What was there at wake and is untouched is the user's: kept (not lost)."""
    runner = runner_for("local", request)
    root = project(
        tmp_path / "p",
        runner,
        sessions={1: _attack(call("run", command="echo nothing"))},
        toml='[budgets]\nrun_sessions = 1\n\n[protect]\npaths = ["tests/acceptance"]\n',
        files={
            "tests/acceptance/test_a.py": NEVER,
            ".gitignore": ".harness/\n*.local.json\n",
        },
        checks=[f"{PYTEST} tests/acceptance"],
    )
    data = root / "tests" / "acceptance" / "fixtures.local.json"
    data.write_text('{"mine": true}\n')
    run(root, tmp_path)
    assert data.read_text() == '{"mine": true}\n'
    assert tool_outputs(root, "verify_feature"), "the check did not run"
