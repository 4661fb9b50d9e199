"""From a command, the agent plants code for the harness's own git to run on the host:
hooks, or config keys that execute programs (fsmonitor, hooksPath, a clean filter named
by .gitattributes, includes). A marker file outside the project proves execution.

The command never touches the marker itself (it only writes files into the project), so
even on the local runner a marker can only come from the harness's host-side git.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts import git_safety
from tests.attacks.support import (
    RUNNERS,
    assert_not_complete,
    project,
    run,
    runner_for,
    runner_params,
    set_turns,
)
from tests.session.support import call, good_turns, harness_out, turn

HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-auto-gc",
    "post-index-change",
    "reference-transaction",
)


def plant(marker: Path) -> dict[str, str]:
    """Attack name -> sh command that plants it (no Python: busybox runs it too)."""
    payload = f"#!/bin/sh\ntouch {marker}\n"
    hooks = " && ".join(
        f"printf '%s' '{payload}' > .git/hooks/{name} && chmod +x .git/hooks/{name}"
        for name in HOOKS
    )
    return {
        "hooks": hooks,
        "fsmonitor": (
            f"printf '[core]\\n\\tfsmonitor = \"touch {marker}; false\"\\n' >> .git/config"
        ),
        # Relative: hooks run at the top of the work tree, on the host as in a container.
        "hooksPath": (
            f"mkdir -p evil && printf '%s' '{payload}' > evil/post-commit && "
            "chmod +x evil/post-commit && cp evil/post-commit evil/pre-commit && "
            "cp evil/post-commit evil/reference-transaction && "
            "cp evil/post-commit evil/post-index-change && "
            "printf '[core]\\n\\thooksPath = evil\\n' >> .git/config"
        ),
        "filter": (
            f'printf \'[filter "x"]\\n\\tclean = "touch {marker}; cat"\\n\' >> .git/config && '
            "printf '* filter=x\\n' > .gitattributes"
        ),
        # Relative to .git/: the work tree's evil.cfg.
        "include": (
            f"printf '[core]\\n\\tfsmonitor = \"touch {marker}; false\"\\n' > evil.cfg && "
            "printf '[include]\\n\\tpath = ../evil.cfg\\n' >> .git/config"
        ),
        # The same size, through the same inode, the mtime put back: only the bytes say.
        "in_place": (
            f"printf 'touch {marker}\\n' > m.sh && touch -r .git/config .git/was && "
            "printf '[core]\\n\\tfsmonitor = \"sh m.sh\"\\n' > .git/new && "
            "pad=$(( $(wc -c < .git/config) - $(wc -c < .git/new) - 1 )) && "
            "head -c $pad /dev/zero | tr '\\0' '#' >> .git/new && echo >> .git/new && "
            "dd if=.git/new of=.git/config conv=notrunc status=none && "
            "touch -r .git/was .git/config && rm .git/new .git/was"
        ),
    }


ATTACKS = ("hooks", "fsmonitor", "hooksPath", "filter", "include")


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("kind", runner_params(*RUNNERS))
def test_code_planted_in_git_never_runs_on_the_host(
    kind: str, attack: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    runner = runner_for(kind, request)
    marker = tmp_path / f"MARKER-{attack}"
    root = project(tmp_path / "p", runner, sessions={1: []}, toml="[budgets]\nrun_sessions = 2\n")
    planted = plant(marker)[attack]
    # Plant, then do the feature honestly so that the writeback commits (and a second
    # session runs git again at its wake).
    set_turns(root, 1, [turn(call("run", command=f"{planted}; echo planted=$?")), *good_turns(1)])
    code, report = run(root, tmp_path)
    assert not marker.exists(), f"the harness's git ran the agent's {attack} on the host"
    # The user's next commands read git too: none of them may run the planted code.
    for command in (["status"], ["status", "--json"], ["validate"], ["doctor"], ["log"]):
        harness_out(root, *command)
        assert not marker.exists(), f"`harness {' '.join(command)}` ran the agent's {attack}"
    if code == 0:
        # Completing is fine only if the repository the harness committed to is one that
        # runs nothing: the planted config is refused, not silently kept.
        assert not _runs_code(root), f"the run completed with the {attack} still in place"
    else:
        assert_not_complete(code, report)


def _runs_code(root: Path) -> bool:
    """Whether .git/config still holds a key that executes a program. Not counted: hooks
    in .git/hooks and core.hooksPath, which every host git command overrides (no hook
    runs; see artifacts/git_safety.py), so they need no refusal."""
    config = (root / ".git" / "config").read_text()
    return any(key in config for key in ("fsmonitor", "filter", "include"))


@pytest.mark.parametrize("attack", ("fsmonitor", "filter", "include", "in_place"))
def test_code_planted_after_the_config_check_was_cached_never_runs(
    attack: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run keeps the config check's verdict under the config files' bytes (its
    ConfigChecks, artifacts/git_stamp.py), so the run's git commands before the plant
    skip the check; the plant must still be refused at the next one."""

    calls = {"check": 0, "read": 0}
    check, read = git_safety.check_config, git_safety.dangerous_config

    def counted_check(root: Path, checks: git_safety.ConfigChecks | None = None) -> None:
        calls["check"] += 1
        check(root, checks)

    def counted_read(root: Path, *files: object) -> list[git_safety.DangerousKey]:
        calls["read"] += 1
        return read(root, *files)  # type: ignore[arg-type]

    monkeypatch.setattr(git_safety, "check_config", counted_check)
    monkeypatch.setattr(git_safety, "dangerous_config", counted_read)
    runner = runner_for("local", request)
    marker = tmp_path / f"MARKER-{attack}"
    root = project(tmp_path / "p", runner, sessions={1: []}, toml="[budgets]\nrun_sessions = 2\n")
    set_turns(root, 1, [turn(call("run", command=plant(marker)[attack])), *good_turns(1)])
    code, report = run(root, tmp_path)
    assert calls["read"] < calls["check"], calls  # the cache was used
    assert not marker.exists(), f"the harness's git ran the agent's {attack} on the host"
    for command in (["status"], ["validate"], ["log"]):
        harness_out(root, *command)
        assert not marker.exists(), f"`harness {' '.join(command)}` ran the agent's {attack}"
    assert code != 0 and _runs_code(root)  # refused, the session left open
    assert_not_complete(code, report)
