"""Policy gates: table-driven over commands, plus the non-command gates and the denial text."""

from __future__ import annotations

import pytest

from artifacts.config import GatesConfig
from escalation.gates import Action, Gates, approval_text, render_denial

ROOT = "/work/project"

COMMANDS = [
    # (command, verdict)
    ("git status", "allow"),
    ("git commit -m 'push it later'", "allow"),
    ("git log --oneline | head", "allow"),
    ("pytest -q tests/", "allow"),
    ("rm -rf ./build", "allow"),
    ("rm -rf build dist", "allow"),
    ("FOO=1 rm -f build/*.o", "allow"),
    # the default config pattern asks for any `rm -r /...`, even inside the workspace
    (f"rm -rf {ROOT}/build", "ask"),
    ("rm -rf sub/../build", "allow"),
    ("git push", "ask"),
    ("git push origin main", "ask"),
    ("git -C sub push --force", "ask"),
    ("make && git push", "ask"),
    ("rm -rf /", "ask"),
    ("rm -rf ../x", "ask"),
    ("rm -rf build/../../x", "ask"),
    ("rm -rf .", "ask"),
    ("rm -r -- /etc", "ask"),
    ("rm -f /tmp/file", "ask"),
    ("sudo rm -rf ~/x", "ask"),
    ('rm -rf "$HOME"', "ask"),
    ("cd .. && rm -rf x", "ask"),
    ("cd /tmp; rm -f y", "ask"),
    ("bash -c 'rm -rf ../other'", "ask"),
    ("npm publish", "ask"),
    ("twine upload dist/*", "ask"),
    ("cargo publish --dry-run", "ask"),
    ("docker push me/img", "ask"),
    ("docker run --network host img", "ask"),
    ("curl https://example.com", "ask"),
    ("rm -rf 'unbalanced", "ask"),
]


@pytest.mark.parametrize(("command", "verdict"), COMMANDS)
def test_commands(command: str, verdict: str) -> None:
    gates = Gates(GatesConfig())
    decision = gates.check(
        Action(tool="run_command", args={"command": command}, workspace_root=ROOT)
    )
    assert decision.verdict == verdict, (command, decision)
    if verdict == "ask":
        assert decision.gate and decision.reason


def test_structural_gates_work_without_patterns() -> None:
    gates = Gates(GatesConfig(command_patterns=[]))
    for command in ("rm -rf /", "git push", "npm publish", "rm -rf ../x"):
        action = Action(tool="run_command", args={"command": command}, workspace_root=ROOT)
        assert gates.check(action).verdict == "ask", command
    for command in ("curl x", f"rm -rf {ROOT}/build"):
        action = Action(tool="run_command", args={"command": command}, workspace_root=ROOT)
        assert gates.check(action).verdict == "allow", command


def test_deny_pattern_beats_ask() -> None:
    gates = Gates(GatesConfig(command_patterns=[r"deny:\bgit\s+push\s+--force"]))
    action = Action(tool="run_command", args={"command": "git push --force"}, workspace_root=ROOT)
    decision = gates.check(action)
    assert decision.verdict == "deny"
    assert "git\\s+push" in (decision.gate or "")


def test_cwd_inside_workspace() -> None:
    gates = Gates(GatesConfig())
    inside = Action(tool="sh", args={"cmd": "rm -rf ../b"}, workspace_root=ROOT, cwd="src/a")
    outside = Action(tool="sh", args={"cmd": "rm -rf ../../../b"}, workspace_root=ROOT, cwd="src")
    assert gates.check(inside).verdict == "allow"
    assert gates.check(outside).verdict == "ask"


@pytest.mark.parametrize(
    ("has_check", "enabled", "verdict"),
    [(False, True, "ask"), (None, True, "ask"), (True, True, "allow"), (False, False, "allow")],
)
def test_mark_passing(has_check: bool | None, enabled: bool, verdict: str) -> None:
    gates = Gates(GatesConfig(mark_passing_without_check=enabled))
    action = Action(tool="mark_passing", args={"feature": "f1"}, feature_has_check=has_check)
    decision = gates.check(action)
    assert decision.verdict == verdict
    if verdict == "ask":
        assert decision.gate == "mark_passing_without_check"


def test_resources_above_max() -> None:
    gates = Gates(GatesConfig())
    maxima = {"memory_mb": 8192, "cpus": 4}
    ok = Action(tool="request_resources", resources={"memory_mb": 8192, "cpus": 2}, maxima=maxima)
    big = Action(tool="request_resources", resources={"memory_mb": 16384}, maxima=maxima)
    assert gates.check(ok).verdict == "allow"
    decision = gates.check(big)
    assert decision.verdict == "ask"
    assert "memory_mb 16384 > max 8192" in decision.reason
    off = Gates(GatesConfig(resources_above_max=False))
    assert off.check(big).verdict == "allow"


def test_network() -> None:
    action = Action(tool="request_resources", network_requested=True)
    assert Gates(GatesConfig()).check(action).gate == "network"
    assert Gates(GatesConfig(network=False)).check(action).verdict == "allow"
    via_args = Action(tool="run_command", args={"command": "ls", "network": True})
    assert Gates(GatesConfig()).check(via_args).verdict == "ask"


def test_denial_text_is_not_a_failure() -> None:
    action = Action(tool="run_command", args={"command": "git push"})
    text = render_denial(action, "pushing is for humans", by="policy")
    assert text.startswith("POLICY DENIAL")
    assert "not an error" in text and "Do not retry" in text
    assert "git push" in text and "pushing is for humans" in text
    assert "human reviewer" in render_denial(action, "", by="human")
    decision = Gates(GatesConfig()).check(action)
    assert "git push" in approval_text(action, decision)
