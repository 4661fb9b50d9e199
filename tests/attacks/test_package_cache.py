"""The package cache kept between wakes (`[runner] package_cache = true`) is written only
by a trusted init.sh on a clean checkout: a hostile agent looks for it from its commands
and plants a file wherever a cache could be, and the next wake's init.sh must not find
it (an agent-written wheel there would be installed, with the setup network, by every
later wake).

Outcomes: what wake 1's init.sh put in `$HOME/.cache` is there at wake 2 (the cache is
kept: before this, every wake started empty and downloaded again); nothing the agent
wrote is; the agent's commands never see the cache. Bubblewrap only: Docker runs setup in
the image, where dependencies belong (the key says so).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.attacks.support import run, runner_for, runner_params, set_init_sh
from tests.session.support import call, good_turns, init, make_project, tool_outputs, turn

INIT = (
    "#!/bin/sh\nset -e\nmkdir -p env\n"
    'ls -A "$HOME/.cache/pip" > env/cache-seen 2>/dev/null || true\n'
    'mkdir -p "$HOME/.cache/pip"\n'
    'echo wheel > "$HOME/.cache/pip/downloaded-$(date +%s%N)"\n'
    "echo 'environment ok'\n"
)
# The agent writes where a cache would be, and wherever it finds one of init.sh's files.
ATTACK = (
    'ls -A "$HOME/.cache" "$HOME/.cache/pip" 2>&1; '
    'mkdir -p "$HOME/.cache/pip" && echo poison > "$HOME/.cache/pip/poison-wheel"; '
    "find / -xdev -name 'downloaded-*' 2>/dev/null | while read -r f; do "
    'echo "found $f"; echo poison > "$(dirname "$f")/poison-wheel"; done; '
    "echo poison > env/poison-wheel; echo atta$((1+1))cked"
)


@pytest.mark.parametrize("kind", runner_params("bwrap"))
def test_only_a_trusted_setup_writes_the_package_cache(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    turns = [turn(call("run", command=ATTACK)), *good_turns(1)]
    root = make_project(
        tmp_path / "p", count=2, sessions={1: turns}, files={".gitignore": "env/\n"},
        toml="[budgets]\nrun_sessions = 2\n",
    )  # fmt: skip
    set_init_sh(root, replace(runner, table=runner.table + "package_cache = true\n"), INIT)
    init(root)
    run(root, tmp_path)
    outputs = tool_outputs(root, "run")
    assert outputs and "atta2cked" in outputs[0], outputs  # the attack ran
    assert "found /" not in outputs[0], "the agent's command saw the cache"
    seen = (root / "env" / "cache-seen").read_text().split()
    assert any(name.startswith("downloaded-") for name in seen), (
        f"wake 2 found nothing of wake 1 in the cache: {seen}"
    )
    assert "poison-wheel" not in seen, "the agent wrote into the package cache"
